/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* JSON output for the CLI: strings that always parse, whatever bytes they hold. */
#ifndef LUOEMU_CLI_JSON_H
#define LUOEMU_CLI_JSON_H

#include <stddef.h>
#include <stdio.h>

/* Write "@s" (@len bytes) as a JSON string, quotes included. */
void json_string_n(FILE *out, const char *s, size_t len);
void json_string(FILE *out, const char *s);

/* A value from a `key value` status line: a JSON number if it is one, else a string. */
void json_scalar(FILE *out, const char *s, size_t len);

/* Undo the daemon's \xNN escaping of a name (status lines); returns the length. */
size_t unescape_hex(const char *in, size_t in_len, char *out, size_t out_size);

#endif
