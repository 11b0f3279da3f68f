/*
 * codes.c: the table of diagnostic codes with their long explanations, shown
 * by `myco check --explain CODE` and copied into docs/lang-errors.md.  Codes
 * are stable: never renumber, only add.  Not for: emitting diagnostics.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "lang_int.h"

static const struct code {
	const char *code;
	const char *text;
} codes[] = {
	{ "E001", "unexpected character\n\n"
	  "Outside strings and comments a .myco file contains only names, numbers,\n"
	  "strings and the punctuation { } ; , : = [ ] < %.  Any other character (or a\n"
	  "non-ASCII byte) is an error.  Comments start with // or /*.\n" },
	{ "E002", "unterminated string\n\n"
	  "A string starts and ends with \" on the same line.  Write a newline as \\n.\n" },
	{ "E003", "unterminated block comment\n\n"
	  "A /* comment runs to the next */; none was found before the end of the file.\n" },
	{ "E004", "name or number too long\n\n"
	  "Names are at most 128 characters and numbers at most 40 characters.\n" },
	{ "E005", "expected `;`\n\n"
	  "Every statement ends with `;` or with a { } block.  The caret points just\n"
	  "after the statement that lacks it.\n\n"
	  "    depth 64        // error\n    depth 64;       // fixed\n" },
	{ "E006", "expected a statement\n\n"
	  "A statement starts with a keyword (in a message: a field name).  A number,\n"
	  "string or punctuation cannot start one.\n" },
	{ "E007", "unclosed `{`\n\n"
	  "The file ended inside a block; the caret shows the `{` that is never\n"
	  "closed.  Add the missing `}`.\n" },
	{ "E008", "blocks nested too deeply\n\n"
	  "Blocks nest at most 32 deep.  The language itself needs 4.\n" },
	{ "E009", "unmatched `}`\n\n"
	  "A `}` at the top level closes nothing.  Remove it or add its `{`.\n" },
	{ "E010", "unknown statement\n\n"
	  "The word is not a statement of this block.  The hint lists what the block\n"
	  "allows, or suggests the closest keyword:\n\n"
	  "    partition p { memmory 64 MiB; }   // did you mean `memory`?\n" },
	{ "E011", "wrong argument\n\n"
	  "The statement's arguments do not match its form (docs/language.md).  The\n"
	  "hint shows the expected form, e.g. `budget 2 ms per 10 ms;`.\n" },
	{ "E012", "unexpected argument\n\n"
	  "The statement is complete but more arguments follow.  Remove them, or\n"
	  "separate list items with commas.\n" },
	{ "E013", "block missing or not allowed\n\n"
	  "`system`, `machine`, `message`, `channel`, `partition`, `group`,\n"
	  "`schedule`, `core` and `service` take a { } block (a `route` may); other\n"
	  "statements end with `;`.\n" },
	{ "E014", "invalid escape in string\n\n"
	  "Strings know the escapes \\\" \\\\ \\n \\t and \\xHH (HH not 00).  Strings\n"
	  "cannot contain NUL bytes.\n" },
	{ "E015", "input too large\n\n"
	  "A source file is at most 16 MiB, with at most 2097152 statements and\n"
	  "4194304 arguments, and one statement has at most 65536 arguments.  The\n"
	  "limits keep memory bounded (the parsed form takes up to about 100 bytes\n"
	  "per input byte); a realistic 10 MB system is well inside them.\n" },
	{ "E020", "unknown name\n\n"
	  "A message type, channel or partition is used but not declared.  The hint\n"
	  "suggests the closest declared name.  Message types may come from an\n"
	  "imported file.\n" },
	{ "E021", "duplicate name\n\n"
	  "Two things of the same kind have the same name (two partitions, two fields\n"
	  "of a message, a core or channel end listed twice, ...), or a message type\n"
	  "is named like a built-in type.  Rename one.\n" },
	{ "E022", "statement given twice\n\n"
	  "A setting such as `depth`, `program` or `major_frame` may appear once per\n"
	  "block; a core appears once per schedule; a system has one schedule.\n" },
	{ "E023", "missing statement\n\n"
	  "Something required is absent: a partition's `program`, a channel's `type`\n"
	  "(queue, sample) or `request`/`reply` (call), or a `heartbeat` for `misses`.\n" },
	{ "E030", "wrong or missing unit\n\n"
	  "Times take ns, us, ms or s; sizes take B, KiB, MiB or GiB; counts take no\n"
	  "unit.  `timeout 50;` and `memory 10 ms;` are errors.\n" },
	{ "E031", "value overflows or is not whole\n\n"
	  "Values are converted to nanoseconds or bytes in 64 bits; the result must\n"
	  "fit and be a whole number: `1.5 ms` is fine, `1.5 ns` is not.\n" },
	{ "E032", "value out of range\n\n"
	  "The number is outside the range the statement allows: a queue depth of 0,\n"
	  "a core above 63, a port outside 1-65535, an ordinal outside 1-65535, a\n"
	  "zero memory limit, a relative path in `path`, a pids limit of 0, cache\n"
	  "ways outside 1-64, ...\n" },
	{ "E040", "unknown field type\n\n"
	  "Field types are u8 u16 u32 u64 i8 i16 i32 i64 f32 f64 bool, bytes[N] and\n"
	  "string[N] (N required), a message type or an enum; any of them may be\n"
	  "followed by [N] to make a fixed array.\n" },
	{ "E041", "duplicate ordinal\n\n"
	  "Each field has a unique ordinal (the `= N`).  Ordinals fix the layout order\n"
	  "so a message can grow by adding fields with new, higher ordinals.\n" },
	{ "E042", "message contains itself\n\n"
	  "A message type nests itself directly or through other messages; its size\n"
	  "would be infinite.  Nesting is also limited to 64 levels.\n" },
	{ "E043", "message too large\n\n"
	  "A message type is at most 16 MiB.\n" },
	{ "E044", "empty message or enum\n\n"
	  "A message type needs at least one field (C has no empty structs); an\n"
	  "enum needs at least one value.\n" },
	{ "E045", "reserved word as a name\n\n"
	  "Names of systems, messages, fields, channels, partitions and groups become\n"
	  "C identifiers in generated headers; C keywords (int, for, ...), names\n"
	  "starting with __ or _ and a capital, and field names starting with\n"
	  "myco_pad are not allowed.\n" },
	{ "E046", "duplicate enum value\n\n"
	  "Two names of one enum have the same value.  Each value names one state;\n"
	  "give every name its own number.\n" },
	{ "E050", "setting does not apply to this channel kind\n\n"
	  "queue takes type, depth, overflow; sample takes type, refresh; call takes\n"
	  "request, reply, timeout.\n" },
	{ "E051", "queue without a receiver\n\n"
	  "Every queue has exactly one consumer: add `recv NAME;` to one partition.\n" },
	{ "E052", "queue with several receivers\n\n"
	  "A queue delivers each message once, to its single consumer.  For fan-out\n"
	  "use a sample channel (latest value, many readers) or one queue per\n"
	  "consumer.\n" },
	{ "E053", "channel end does not fit the channel kind\n\n"
	  "`send` and `recv` apply to queue and sample channels; `call` (client) and\n"
	  "`serve` (server) to call channels.\n" },
	{ "E054", "call without a server\n\n"
	  "Every call channel has exactly one partition that declares `serve NAME;`.\n" },
	{ "E055", "call with several servers\n\n"
	  "A call channel has one server.  Declare one channel per server.\n" },
	{ "E056", "sample with several writers\n\n"
	  "A sample channel holds the latest value of one writer.\n" },
	{ "E058", "sample without a reader\n\n"
	  "Nobody reads the sample channel.  Add `recv NAME;` to a reader or remove\n"
	  "the channel.\n" },
	{ "E060", "budget larger than its period\n\n"
	  "`budget R per P;` reserves R of CPU time every P; R cannot exceed P.\n" },
	{ "E061", "core over-committed\n\n"
	  "The budgets (runtime/period) of the partitions pinned to a core plus the\n"
	  "share of the major frame covered by the core's windows add up to more\n"
	  "than 1; or all budgets together exceed the machine's cores.  The\n"
	  "reservation could not be honoured.\n" },
	{ "E062", "zero time\n\n"
	  "Budgets, periods, window durations, restart periods and the major frame\n"
	  "must be greater than zero.\n" },
	{ "E063", "time mode mismatch\n\n"
	  "A partition runs either with a budget (`budget R per P;`) or in frame\n"
	  "windows (`frame;`), not both.  A frame-mode partition needs at least one\n"
	  "window in the schedule, and only frame-mode partitions may have windows.\n" },
	{ "E064", "window outside the major frame\n\n"
	  "A window's offset plus duration must not exceed the major frame.\n" },
	{ "E065", "windows overlap\n\n"
	  "Two windows on the same core overlap in time.  Windows on one core are\n"
	  "exclusive.\n" },
	{ "E066", "core not available\n\n"
	  "The core does not exist on the declared machine (in a partition's\n"
	  "`cores`, a schedule's `core` or `shield cores`), or a window is placed on\n"
	  "a core the partition's `cores` does not allow.\n" },
	{ "E067", "partition memory above the machine\n\n"
	  "A partition's memory limit exceeds the machine's memory.\n" },
	{ "E068", "total memory above the machine\n\n"
	  "The partitions' memory limits add up to more than the machine's memory.\n"
	  "Limits are reservations in a static system; lower some of them.\n" },
	{ "E069", "every core shielded\n\n"
	  "`shield cores ...;` lists every core of the machine.  Shielding moves the\n"
	  "host's other tasks and interrupts off those cores; with none left they\n"
	  "(and the executive) would have nowhere to run.  Leave at least one core\n"
	  "unshielded.\n" },
	{ "E070", "cycle of calls\n\n"
	  "Partitions call each other in a cycle (a calls b, b calls a, or longer).\n"
	  "With blocking calls that can deadlock.  Break the cycle, e.g. replace one\n"
	  "call with a queue.\n" },
	{ "E071", "port taken\n\n"
	  "Two partitions declare `listen` on the same port, or the system's\n"
	  "`metrics` or `dashboard` port is one a partition listens on (or they are\n"
	  "the same port); only one socket can listen on a port, so the second could\n"
	  "not start.\n" },
	{ "E072", "invalid user or group name\n\n"
	  "`user NAME;` and `user NAME group NAME;` take a name made of letters,\n"
	  "digits, `.`, `_` and `-` (not first), at most 32 bytes, and not all\n"
	  "digits (write a numeric id without quotes: `user 65534;`).  Names are\n"
	  "looked up by the executive when the system starts, not by the checker:\n"
	  "an unknown name is a `myco run` start-up error.\n" },
	{ "E073", "invalid listen address\n\n"
	  "`metrics \"ADDR:PORT\";` and `dashboard \"ADDR:PORT\";` take a numeric IPv4\n"
	  "address (\"0.0.0.0:9100\") or an IPv6 address in brackets (\"[::1]:9100\")\n"
	  "and a port from 1 to 65535.  Host names are not looked up.  A bare port\n"
	  "(`metrics 9100;`, `dashboard 8080;`) serves on the loopback address\n"
	  "127.0.0.1.\n" },
	{ "E074", "conflicting routes\n\n"
	  "Two routes of a service have the same method and paths the router cannot\n"
	  "tell apart: the same segments, with equal literals and parameters of the\n"
	  "same type (`/users/{id:u64}` and `/users/{key:u64}`).  A literal segment\n"
	  "and a parameter do not conflict (the literal wins), nor do parameters of\n"
	  "different types.\n" },
	{ "E075", "invalid route path\n\n"
	  "A route's path starts with /, has no empty segments (`//`, a trailing /)\n"
	  "and no query string; a parameter is a whole segment `{name:type}` whose\n"
	  "name is a C identifier used once, and whose type is u8..u64, i8..i64,\n"
	  "f32, f64, bool, string (64 bytes), string[N], an enum, or path (the rest of\n"
	  "the path, last segment only).  Also a `prefix` that is not such a path and\n"
	  "a CORS origin that is not scheme://host[:port] or \"*\".\n" },
	{ "E076", "service without a server, or with several\n\n"
	  "Every service is answered by exactly one partition, the one that declares\n"
	  "`serve NAME;`.\n" },
	{ "E077", "invalid JSON constraint\n\n"
	  "A field's constraints after its ordinal (`= 2 required min_len 1;`) must\n"
	  "fit its type: `min` and `max` bound numbers (whole ones for integer\n"
	  "fields, min <= max), `min_len` strings, bytes and arrays, `pattern`\n"
	  "strings (a valid POSIX extended regular expression).  `required` and\n"
	  "`nullable` fit every field.  Each is given once.\n" },
	{ "E078", "query type with a field a query string cannot carry\n\n"
	  "A route's `query` type is filled from name=value pairs: its fields are\n"
	  "numbers, bools, strings or enums, not nested messages, bytes or arrays.\n" },
	{ "E081", "partition in two groups\n\n"
	  "A partition has one supervisor: it belongs to at most one group.\n" },
	{ "E082", "group without members\n\n"
	  "A supervision group lists its partitions with `members a, b;`.\n" },
	{ "E090", "cannot import file\n\n"
	  "The imported file does not exist or cannot be read.  Paths are relative to\n"
	  "the folder of the file that imports.\n" },
	{ "E091", "import cycle\n\n"
	  "Files import each other in a cycle.  Move shared types to a third file.\n" },
	{ "E092", "wrong statement in an imported file\n\n"
	  "Imported files hold message types (and imports) only; a system is declared\n"
	  "in the root file, and `import` goes at the top of a file.\n" },
	{ "E093", "imports disabled\n\n"
	  "The program that loads this file turned imports off.\n" },
	{ "E094", "too many imports\n\n"
	  "At most 64 files take part in one load.\n" },
	{ "E095", "no system, or more than one\n\n"
	  "The root file declares exactly one `system name { ... }`.\n" },
	{ "E099", "unknown dashboard action\n\n"
	  "`dashboard 8080 actions kill, restart, stop, chaos;` lists what the\n"
	  "dashboard's page may do to the running system (behind its token,\n"
	  "docs/dashboard.md); `actions all` allows all four.  Without `actions`\n"
	  "the dashboard is read-only.\n" },
	{ "E100", "schedule without a major frame\n\n"
	  "A schedule starts with `major_frame 20 ms;`.\n" },
	{ "E110", "invalid service level objective\n\n"
	  "`slo SIGNAL [pNN] < LIMIT;` names one of the health model's signals\n"
	  "(heartbeat, latency, queue, stall, memory, cpu, errors, restarts) and the\n"
	  "bound it must stay below, in the signal's unit: a time for heartbeat,\n"
	  "latency and stall; a size or a percentage (of the partition's `memory`)\n"
	  "for memory; a percentage for cpu (of the budget) and errors; a plain\n"
	  "count for queue and restarts.  Only latency takes a quantile (p50, p90,\n"
	  "p99, p999; default p99).  One objective per signal.\n\n"
	  "    slo latency p99 < 2 ms;\n    slo memory < 80 %;\n" },
	{ "E111", "health statement that needs another one\n\n"
	  "`slo memory < N %` needs the partition's `memory` limit (or give a size),\n"
	  "a memory objective above that limit can never break first, and\n"
	  "`slo heartbeat` needs `heartbeat`.  In `heal ACTION ahead T limit N per T;`\n"
	  "the times are greater than zero.\n" },
	{ "E120", "gateway route proxies to an unknown upstream\n"
	  "\n"
	  "In a partition's `gateway { }` section, `proxy NAME;` in a route names an\n"
	  "`upstream NAME { ... }` of the same gateway (declared before or after the\n"
	  "route).  The hint names the closest upstream.\n"
	  "\n"
	  "    upstream app { server \"10.0.0.1:9000\"; }\n"
	  "    route \"/api/\" { proxy ap; }      // error: did you mean `app`?\n" },
	{ "E121", "gateway upstream or route given twice\n"
	  "\n"
	  "Two `upstream` blocks of one gateway have the same name, or two routes\n"
	  "the same prefix and host: the second could never be used.  Give the\n"
	  "upstream another name, or merge the routes.\n" },
	{ "E122", "invalid gateway setting\n"
	  "\n"
	  "A value myco-gate would refuse: an address that is not \"HOST:PORT\", a\n"
	  "route prefix that does not start with `/`, a header name that is not a\n"
	  "token, a route without an action (`proxy` or `respond`) or with two, an\n"
	  "upstream without a server, a route `cache` without the gateway's `cache\n"
	  "SIZE`, `tls sni` without a default `tls cert`, more than 16 header\n"
	  "rewrites per direction, a fixed answer above 64 KiB, a control character\n"
	  "in a string.  docs/gate.md lists every setting.\n" },
	{ "E130", "unknown target in a chaos experiment\n\n"
	  "A fault of a `chaos NAME { ... }` experiment names what it hits: a\n"
	  "channel for drop, delay, duplicate, reorder, corrupt, bandwidth and stall\n"
	  "(they apply where the channel is received); a partition for hog, leak,\n"
	  "skew and starve; a partition or `any` (a running partition picked at\n"
	  "random, from the seed, at each firing) for kill, hang, slow and fdleak.\n"
	  "The name must be declared in the system.\n"
	  "\n"
	  "    kill any every 100 ms;\n"
	  "    delay numbers 2 ms jitter 1 ms;\n" },
	{ "E131", "invalid chaos fault\n\n"
	  "A fault statement is `KIND TARGET [ARGUMENTS] [at T] [for T] [every T]\n"
	  "[probability N %] [seed N];`.  A sample channel takes drop, corrupt and\n"
	  "stall; `replies` follows a call channel, for drop, delay, corrupt and\n"
	  "stall; hog, leak, skew, starve and slowsys take one partition, not\n"
	  "`any`; slowsys names its system calls (`calls read, write`) from the\n"
	  "list of docs/chaos.md; only kill and hang repeat with `every`, at most\n"
	  "every 10 ms (the executive's tick); rates, delays and durations are\n"
	  "above zero; percentages above 0 and at most 100 (starve: 99); each of at,\n"
	  "for, every, probability and seed is given once; an experiment has at\n"
	  "least one fault (docs/chaos.md).\n"
	  "\n"
	  "    hang filter 200 ms every 2 s probability 50 %;\n"
	  "    corrupt numbers flip 1 probability 1 %;\n" },
	{ "E132", "invalid bid\n\n"
	  "A bid is `bid CLASS N [income N] [deadline TIME];` in a partition with\n"
	  "`scheduler market;`: CLASS is a task class (a coroutine name, at most 31\n"
	  "bytes), N the bid per period and the income per period (1 to\n"
	  "1,000,000,000; the income defaults to the bid), the deadline above zero;\n"
	  "at most 16 classes per partition (docs/scheduling.md).\n" },
	{ "E133", "invalid elastic range\n\n"
	  "`cores MIN..MAX elastic;` makes a partition elastic: its runtime has MAX\n"
	  "loops, MIN of them always run, and the executive lends it up to MAX - MIN\n"
	  "more cores while its loops have work waiting (docs/scheduling.md). MIN is\n"
	  "at least 1, MIN <= MAX <= 64, and a range always says `elastic` (a list\n"
	  "of core numbers is written `cores 0, 1;`).\n"
	  "\n"
	  "    cores 1..4 elastic;\n" },
	{ "E134", "elastic partition with a reservation\n\n"
	  "An elastic partition runs on the pool of cores that no budget or frame\n"
	  "partition reserves and borrows from it; a `budget` or `frame` reservation\n"
	  "in the same partition is an error. Give the partition one or the other.\n" },
	{ "E135", "elastic minimums do not fit the machine\n\n"
	  "With a `machine` block, the cores the budget and frame partitions reserve\n"
	  "(the cores they are pinned to, the cores holding frame windows, and the\n"
	  "unpinned budgets' utilisation rounded up) plus every elastic partition's\n"
	  "minimum must not exceed the machine's cores: the minimums are always\n"
	  "held.\n" },
	{ "E140", "record without a mode\n\n"
	  "`record` says when the partition's inputs are recorded: `always` (the log\n"
	  "is kept) or `on crash` (kept only when the partition crashes).\n"
	  "docs/replay.md.\n"
	  "\n"
	  "    record always;\n"
	  "    record on crash;\n" },
	{ "E141", "record cap out of range\n\n"
	  "`keep SIZE` caps the record log between 1 MiB and 64 GiB; `for TIME`\n"
	  "keeps at least 1 s of it.\n"
	  "\n"
	  "    record always keep 64 MiB for 10 min;\n" },
	{ "W001", "channel end missing (warning)\n\n"
	  "A queue or sample channel has no sender, or a call channel no client.\n"
	  "The system still loads; the channel is simply idle.\n" },
	{ "W002", "unknown scheduler policy (warning)\n\n"
	  "The runtime (lib/rt) knows the policies fifo, edf, steal, adaptive and\n"
	  "market; a partition asking for another one would fail when its event\n"
	  "loop starts.  The system still loads, so that a runtime with more\n"
	  "policies can use it.\n" },
	{ "W003", "elastic maximum beyond the pool (warning)\n\n"
	  "An elastic partition's MAX - MIN is more than the pool has (the machine's\n"
	  "cores less the reservations and every elastic minimum): the arbiter never\n"
	  "lends more than the pool, so the partition will not reach its maximum.\n"
	  "The system still loads. Without a `machine` block the executive computes\n"
	  "the pool from the CPUs it may use at start-up and says the same in an\n"
	  "`admission` event.\n" },
};

const char *myco_lang_explain(const char *code)
{
	char c[8];
	size_t n = 0;
	if (!code)
		return NULL;
	if (*code != 'e' && *code != 'E' && *code != 'w' && *code != 'W')
		return NULL;
	char kind = (char)toupper((unsigned char)*code++);
	unsigned v = 0;
	for (; *code && n < 4; code++, n++) {
		if (!isdigit((unsigned char)*code))
			return NULL;
		v = v * 10 + (unsigned)(*code - '0');
	}
	if (*code || !n)
		return NULL;
	snprintf(c, sizeof(c), "%c%03u", kind, v);
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (!strcmp(codes[i].code, c))
			return codes[i].text;
	return NULL;
}

const char *myco_lang_code_at(size_t i, const char **text)
{
	if (i >= sizeof(codes) / sizeof(codes[0]))
		return NULL;
	if (text)
		*text = codes[i].text;
	return codes[i].code;
}
