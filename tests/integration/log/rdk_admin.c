/*
 * rdk_admin.c: librdkafka's Admin API (the C client, Debian 2.0.2) as a
 * small command for log_test.py's admin scenarios: one operation per run,
 * the answer printed on stdout, exit 0 when the operation succeeded.
 *
 *   rdk_admin BROKER delete-records TOPIC PARTITION OFFSET
 *   rdk_admin BROKER offset-delete GROUP TOPIC PARTITION
 *   rdk_admin BROKER list-groups
 *   rdk_admin BROKER describe-group GROUP
 *   rdk_admin BROKER delete-group GROUP
 *
 * Not the code under test: myco-log answers these requests.
 */
#include <librdkafka/rdkafka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static rd_kafka_t *rk;
static rd_kafka_queue_t *q;

static rd_kafka_event_t *wait_result(rd_kafka_event_type_t type)
{
	for (;;) {
		rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
		if (!ev) {
			fprintf(stderr, "rdk_admin: no answer in 30 s\n");
			exit(3);
		}
		if (rd_kafka_event_type(ev) == type) {
			if (rd_kafka_event_error(ev)) {
				printf("error %s\n", rd_kafka_err2name(rd_kafka_event_error(ev)));
				exit(1);
			}
			return ev;
		}
		rd_kafka_event_destroy(ev);
	}
}

static int delete_records(const char *topic, int part, long long off)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_DeleteRecords_t *d;
	rd_kafka_event_t *ev;
	const rd_kafka_topic_partition_list_t *res;

	rd_kafka_topic_partition_list_add(l, topic, part)->offset = off;
	d = rd_kafka_DeleteRecords_new(l);
	rd_kafka_DeleteRecords(rk, &d, 1, NULL, q);
	ev = wait_result(RD_KAFKA_EVENT_DELETERECORDS_RESULT);
	res = rd_kafka_DeleteRecords_result_offsets(rd_kafka_event_DeleteRecords_result(ev));
	printf("%s low_watermark %lld\n", rd_kafka_err2name(res->elems[0].err),
	       (long long)res->elems[0].offset);
	return res->elems[0].err ? 1 : 0;
}

static int offset_delete(const char *group, const char *topic, int part)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_DeleteConsumerGroupOffsets_t *d;
	rd_kafka_event_t *ev;
	const rd_kafka_group_result_t **g;
	const rd_kafka_topic_partition_list_t *parts;
	size_t n;

	rd_kafka_topic_partition_list_add(l, topic, part);
	d = rd_kafka_DeleteConsumerGroupOffsets_new(group, l);
	rd_kafka_DeleteConsumerGroupOffsets(rk, &d, 1, NULL, q);
	ev = wait_result(RD_KAFKA_EVENT_DELETECONSUMERGROUPOFFSETS_RESULT);
	g = rd_kafka_DeleteConsumerGroupOffsets_result_groups(
		rd_kafka_event_DeleteConsumerGroupOffsets_result(ev), &n);
	if (n != 1)
		return 1;
	if (rd_kafka_group_result_error(g[0])) {
		printf("group %s\n", rd_kafka_error_name(rd_kafka_group_result_error(g[0])));
		return 1;
	}
	parts = rd_kafka_group_result_partitions(g[0]);
	printf("%s\n", rd_kafka_err2name(parts->elems[0].err));
	return parts->elems[0].err ? 1 : 0;
}

static int list_groups(void)
{
	rd_kafka_event_t *ev;
	const rd_kafka_ListConsumerGroups_result_t *res;
	const rd_kafka_ConsumerGroupListing_t **v;
	size_t n, ne;

	rd_kafka_ListConsumerGroups(rk, NULL, q);
	ev = wait_result(RD_KAFKA_EVENT_LISTCONSUMERGROUPS_RESULT);
	res = rd_kafka_event_ListConsumerGroups_result(ev);
	v = rd_kafka_ListConsumerGroups_result_valid(res, &n);
	(void)rd_kafka_ListConsumerGroups_result_errors(res, &ne);
	for (size_t i = 0; i < n; i++)
		printf("%s %s\n", rd_kafka_ConsumerGroupListing_group_id(v[i]),
		       rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupListing_state(v[i])));
	return ne ? 1 : 0;
}

static int describe_group(const char *group)
{
	rd_kafka_event_t *ev;
	const rd_kafka_ConsumerGroupDescription_t **v;
	size_t n;

	rd_kafka_DescribeConsumerGroups(rk, &group, 1, NULL, q);
	ev = wait_result(RD_KAFKA_EVENT_DESCRIBECONSUMERGROUPS_RESULT);
	v = rd_kafka_DescribeConsumerGroups_result_groups(
		rd_kafka_event_DescribeConsumerGroups_result(ev), &n);
	if (n != 1)
		return 1;
	if (rd_kafka_ConsumerGroupDescription_error(v[0])) {
		printf("error %s\n",
		       rd_kafka_error_name(rd_kafka_ConsumerGroupDescription_error(v[0])));
		return 1;
	}
	printf("%s %s members %zu\n", rd_kafka_ConsumerGroupDescription_group_id(v[0]),
	       rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupDescription_state(v[0])),
	       rd_kafka_ConsumerGroupDescription_member_count(v[0]));
	return 0;
}

static int delete_group(const char *group)
{
	rd_kafka_DeleteGroup_t *d = rd_kafka_DeleteGroup_new(group);
	rd_kafka_event_t *ev;
	const rd_kafka_group_result_t **g;
	size_t n;

	rd_kafka_DeleteGroups(rk, &d, 1, NULL, q);
	ev = wait_result(RD_KAFKA_EVENT_DELETEGROUPS_RESULT);
	g = rd_kafka_DeleteGroups_result_groups(rd_kafka_event_DeleteGroups_result(ev), &n);
	if (n != 1)
		return 1;
	printf("%s\n", rd_kafka_group_result_error(g[0]) ?
	       rd_kafka_error_name(rd_kafka_group_result_error(g[0])) : "NO_ERROR");
	return rd_kafka_group_result_error(g[0]) ? 1 : 0;
}

int main(int argc, char **argv)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char err[256];
	const char *op;

	if (argc < 3) {
		fprintf(stderr, "usage: rdk_admin BROKER OPERATION ARGS...\n");
		return 2;
	}
	op = argv[2];
	rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], err, sizeof(err));
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (!rk) {
		fprintf(stderr, "rdk_admin: %s\n", err);
		return 2;
	}
	q = rd_kafka_queue_new(rk);
	int rc = 2;
	if (!strcmp(op, "delete-records") && argc == 6)
		rc = delete_records(argv[3], atoi(argv[4]), atoll(argv[5]));
	else if (!strcmp(op, "offset-delete") && argc == 6)
		rc = offset_delete(argv[3], argv[4], atoi(argv[5]));
	else if (!strcmp(op, "list-groups") && argc == 3)
		rc = list_groups();
	else if (!strcmp(op, "describe-group") && argc == 4)
		rc = describe_group(argv[3]);
	else if (!strcmp(op, "delete-group") && argc == 4)
		rc = delete_group(argv[3]);
	else
		fprintf(stderr, "rdk_admin: bad operation or arguments\n");
	fflush(stdout);
	rd_kafka_queue_destroy(q);
	rd_kafka_destroy(rk);
	return rc;
}
