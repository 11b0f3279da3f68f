/*
 * gen.c: the C header of a system (`myco gen`): one struct per message type
 * with the fixed layout of the model (fields in ordinal order, explicit
 * padding), _Static_assert on every size and offset, <Type>_validate()
 * helpers (bools are 0 or 1, strings are NUL-terminated within their
 * capacity), and channel name constants.  The structs are the wire layout on
 * a little-endian host, which the header asserts.  Compiles with
 * -std=c17 -Wall -Wextra -Werror.  Services' route tables: gen_api.c.
 * Not for: layout decisions (layout.c).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lang_int.h"

const char *myco__gen_ctype(myco_ftype_t t)
{
	switch (t) {
	case MYCO_FT_U8: return "uint8_t";
	case MYCO_FT_U16: return "uint16_t";
	case MYCO_FT_U32: return "uint32_t";
	case MYCO_FT_U64: return "uint64_t";
	case MYCO_FT_I8: return "int8_t";
	case MYCO_FT_I16: return "int16_t";
	case MYCO_FT_I32: return "int32_t";
	case MYCO_FT_I64: return "int64_t";
	case MYCO_FT_F32: return "float";
	case MYCO_FT_F64: return "double";
	case MYCO_FT_BOOL: return "uint8_t";
	case MYCO_FT_BYTES: return "uint8_t";
	case MYCO_FT_STRING: return "char";
	default: return "uint8_t";
	}
}

void myco__gen_upper(FILE *f, const char *s)
{
	for (; *s; s++)
		fputc(toupper((unsigned char)*s), f);
}

static void emit_enum(const myco_enum_t *e, FILE *f)
{
	fprintf(f, "/* enum %s (%s:%u): stored as %s */\n", e->name, e->pos.file ? e->pos.file : "",
		e->pos.line, myco_ftype_name(e->base));
	fprintf(f, "typedef %s %s;\n", myco__gen_ctype(e->base), e->name);
	for (size_t i = 0; i < e->nvalues; i++)
		fprintf(f, "#define %s_%s ((%s)%lluu)\n", e->name, e->values[i].name, e->name,
			(unsigned long long)e->values[i].value);
	fprintf(f, "\n/* True when v is one of the values of %s. */\n", e->name);
	fprintf(f, "static inline bool %s_valid(%s v)\n{\n\tswitch (v) {\n", e->name, e->name);
	for (size_t i = 0; i < e->nvalues; i++)
		fprintf(f, "\tcase %lluu:\n", (unsigned long long)e->values[i].value);
	fputs("\t\treturn true;\n\tdefault:\n\t\treturn false;\n\t}\n}\n\n", f);
}

static void emit_msg(const myco_system_t *sys, uint32_t mi, unsigned char *done, FILE *f,
		     unsigned depth)
{
	const myco_msgtype_t *m = &sys->msgs[mi];
	if (done[mi] || depth > MYCO__MAX_MSG_NEST + 1)
		return;
	done[mi] = 1;
	for (size_t i = 0; i < m->nfields; i++)
		if (m->fields[i].type == MYCO_FT_MSG)
			emit_msg(sys, m->fields[i].msg, done, f, depth + 1);
	fprintf(f, "/* %s (%s:%u): %u bytes, align %u */\n", m->name,
		m->pos.file ? m->pos.file : "", m->pos.line, m->size, m->align);
	fprintf(f, "typedef struct %s {\n", m->name);
	uint32_t off = 0, npad = 0;
	for (size_t i = 0; i < m->nfields; i++) {
		const myco_field_t *x = &m->fields[i];
		if (x->offset > off)
			fprintf(f, "\tuint8_t myco_pad_%u[%u];\n", npad++, x->offset - off);
		const char *t = x->type == MYCO_FT_MSG ? sys->msgs[x->msg].name
				: x->type == MYCO_FT_ENUM ? sys->enums[x->enum_type].name
				: myco__gen_ctype(x->type);
		fprintf(f, "\t%s %s", t, x->name);
		if (x->array_len)
			fprintf(f, "[%u]", x->array_len);
		if (x->type == MYCO_FT_BYTES || x->type == MYCO_FT_STRING)
			fprintf(f, "[%u]", x->length);
		fprintf(f, ";\t/* ordinal %u, %s%s */\n", x->ordinal,
			x->type == MYCO_FT_MSG ? "message" : x->type == MYCO_FT_ENUM ? "enum"
			: myco_ftype_name(x->type),
			x->type == MYCO_FT_BOOL ? " (0 or 1)" : "");
		off = x->offset + x->size;
	}
	if (m->size > off)
		fprintf(f, "\tuint8_t myco_pad_%u[%u];\n", npad++, m->size - off);
	fprintf(f, "} %s;\n", m->name);
	fprintf(f, "_Static_assert(sizeof(%s) == %u, \"%s: size\");\n", m->name, m->size, m->name);
	fprintf(f, "_Static_assert(_Alignof(%s) == %u, \"%s: alignment\");\n", m->name, m->align,
		m->name);
	for (size_t i = 0; i < m->nfields; i++)
		fprintf(f, "_Static_assert(offsetof(%s, %s) == %u, \"%s.%s: offset\");\n", m->name,
			m->fields[i].name, m->fields[i].offset, m->name, m->fields[i].name);
	/* validate */
	fprintf(f, "\n/* True when every bool is 0 or 1, every enum holds one of its values and\n"
		" * every string is NUL-terminated within its capacity (also in nested\n"
		" * messages). */\n");
	fprintf(f, "static inline bool %s_validate(const %s *m)\n{\n", m->name, m->name);
	bool any = false;
	for (size_t i = 0; i < m->nfields; i++) {
		const myco_field_t *x = &m->fields[i];
		const char *idx = x->array_len ? "[i]" : "";
		char cond[512];
		if (x->type == MYCO_FT_BOOL)
			snprintf(cond, sizeof(cond), "m->%s%s > 1", x->name, idx);
		else if (x->type == MYCO_FT_STRING)
			snprintf(cond, sizeof(cond), "!memchr(m->%s%s, 0, %u)", x->name, idx, x->length);
		else if (x->type == MYCO_FT_MSG)
			snprintf(cond, sizeof(cond), "!%s_validate(&m->%s%s)", sys->msgs[x->msg].name,
				 x->name, idx);
		else if (x->type == MYCO_FT_ENUM)
			snprintf(cond, sizeof(cond), "!%s_valid(m->%s%s)", sys->enums[x->enum_type].name,
				 x->name, idx);
		else
			continue;
		any = true;
		if (x->array_len)
			fprintf(f, "\tfor (size_t i = 0; i < %u; i++)\n\t\tif (%s)\n\t\t\treturn false;\n",
				x->array_len, cond);
		else
			fprintf(f, "\tif (%s)\n\t\treturn false;\n", cond);
	}
	if (!any)
		fputs("\t(void)m;\n", f);
	fputs("\treturn true;\n}\n\n", f);
}

int myco_lang_gen_header(const myco_system_t *sys, FILE *f)
{
	if (!sys || !f)
		return -EINVAL;
	unsigned char *done = calloc(sys->nmsgs + 1, 1);
	if (!done)
		return -ENOMEM;
	fprintf(f, "/*\n * Generated by `myco gen` from %s (system %s).  Do not edit.\n *\n"
		" * Message types with their fixed layout: fields in ordinal order, natural\n"
		" * alignment, explicit padding (myco_pad_*), little-endian.  The structs are\n"
		" * the wire layout on a little-endian host, which is asserted below.\n"
		" * <Type>_validate() checks bools and string termination.\n */\n",
		sys->path ? sys->path : "?", sys->name);
	fputs("#ifndef MYCO_GEN_", f);
	myco__gen_upper(f, sys->name);
	fputs("_H\n#define MYCO_GEN_", f);
	myco__gen_upper(f, sys->name);
	fputs("_H\n\n#include <stdbool.h>\n#include <stddef.h>\n#include <stdint.h>\n"
	      "#include <string.h>\n\n"
	      "_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,\n"
	      "\t       \"Myco message structs are the little-endian wire layout\");\n"
	      "_Static_assert(sizeof(float) == 4 && sizeof(double) == 8, \"IEEE 754 floats\");\n\n",
	      f);
	for (size_t i = 0; i < sys->nenums; i++)
		emit_enum(&sys->enums[i], f);
	for (size_t i = 0; i < sys->nmsgs; i++)
		emit_msg(sys, (uint32_t)i, done, f, 0);
	free(done);
	fputs("/* Channels: names to open them by, and their message types. */\n", f);
	for (size_t i = 0; i < sys->nchannels; i++) {
		const myco_channel_t *c = &sys->channels[i];
		fputs("#define ", f);
		myco__gen_upper(f, sys->name);
		fputs("_CHAN_", f);
		myco__gen_upper(f, c->name);
		fprintf(f, " \"%s\"\t/* %s", c->name, myco_lang_chan_kind_name(c->kind));
		if (c->kind == MYCO_LANG_CALL)
			fprintf(f, ": %s -> %s */\n", sys->msgs[c->request].name, sys->msgs[c->reply].name);
		else
			fprintf(f, " of %s */\n", sys->msgs[c->msg].name);
	}
	if (sys->nservices && myco__gen_services(sys, f))
		return -ENOMEM;
	fputs("\n#endif\n", f);
	return ferror(f) ? -EIO : 0;
}
