// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Bytes that are not printable ASCII become \u00XX (as if Latin-1): names
 * come from clients and blobs, so the output must parse whatever they hold.
 */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#include "cli/json.h"

void json_string_n(FILE *out, const char *s, size_t len)
{
	fputc('"', out);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c >= 0x20 && c < 0x7f)
			fputc(c, out);
		else
			fprintf(out, "\\u%04x", c);
	}
	fputc('"', out);
}

void json_string(FILE *out, const char *s)
{
	json_string_n(out, s, strlen(s));
}

/* A decimal integer as JSON writes it: optional '-', no leading zeros. */
static bool is_json_integer(const char *s, size_t len)
{
	size_t i = 0;

	if (len && s[0] == '-')
		i++;
	if (i == len || len - i > 19 || (s[i] == '0' && len - i > 1))
		return false;
	for (; i < len; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

void json_scalar(FILE *out, const char *s, size_t len)
{
	if (is_json_integer(s, len))
		fwrite(s, 1, len, out);
	else
		json_string_n(out, s, len);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

size_t unescape_hex(const char *in, size_t in_len, char *out, size_t out_size)
{
	size_t n = 0;

	for (size_t i = 0; i < in_len && n + 1 < out_size; i++) {
		if (in[i] == '\\' && i + 3 < in_len && in[i + 1] == 'x' && hexval(in[i + 2]) >= 0 &&
		    hexval(in[i + 3]) >= 0) {
			out[n++] = (char)(hexval(in[i + 2]) << 4 | hexval(in[i + 3]));
			i += 3;
		} else {
			out[n++] = in[i];
		}
	}
	out[n] = '\0';
	return n;
}
