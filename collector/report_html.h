/* The HTML page of `spaturzu report --html`. */
#ifndef SPZ_REPORT_HTML_H
#define SPZ_REPORT_HTML_H

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>

/* Writes the page for the 30 days before `now` (epoch seconds). 0 or -1. */
int report_html(FILE *f, sqlite3 *db, int64_t now);

#endif
