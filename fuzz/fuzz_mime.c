/*
 * fuzz_mime.c - fuzz target for mime_report_extract(): any bytes as an
 * e-mail message. Checks the contract: 0 with 1..LIMIT_MIME_REPORTS
 * non-empty reports, or -1 with a reason and no message.
 */
#include <stdint.h>
#include <stdlib.h>

#include "mime/mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_message *m = NULL;
	struct err e = { "" };

	if (mime_report_extract(data, size, &m, &e) == 0) {
		if (m == NULL || m->nreports == 0 ||
		    m->nreports > LIMIT_MIME_REPORTS)
			abort();
		for (size_t i = 0; i < m->nreports; i++)
			if (m->reports[i].len == 0 ||
			    m->reports[i].len > LIMIT_REPORT_BYTES ||
			    m->reports[i].content_type == NULL)
				abort();
		mime_message_free(m);
	} else if (m != NULL || e.msg[0] == '\0') {
		abort();
	}
	return 0;
}
