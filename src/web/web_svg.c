/*
 * web_svg.c - the dashboard's charts, as inline SVG written into a page
 * (no script, no external asset): they scale with the page (a viewBox
 * and width 100%), each mark carries a <title> that browsers show on
 * hover and screen readers read, and every chart is followed on its page
 * by a table of the same figures.
 *
 *	sessions per day     stacked bars: successful (green) under failed
 *	                     (red), one bar per day, the largest day's total
 *	                     written at the top left, the first and last day
 *	                     under the axis
 *	failures by type     horizontal bars, one per result type, longest
 *	                     first, the count at the end of each
 *	sparkline            the share of successful sessions per day, 0 to
 *	                     100 %, as a line; days without sessions are gaps
 *
 * Pure: figures in, markup out (web_html.c escapes every label).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "web.h"

#define SVG_OK "#2e7d32"
#define SVG_FAIL "#c62828"

/* The day of slot i: the range's when there is one, else the table's. */
static void
web_svg_day_label(struct web_html *h, const struct web_stat_table *days,
    time_t from, size_t i, size_t ndays)
{
	time_t t = from + (time_t)i * 86400;
	struct tm tm;
	char buf[16];

	if (ndays == 0) {
		web_html_text(h, days->v[i].key);
		return;
	}
	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%d", &tm);
	web_html_text(h, buf);
}

void
web_svg_days(struct web_html *h, const struct web_stat_table *days,
    time_t from, size_t ndays)
{
	const double W = 720, H = 200, top = 18, bottom = 22;
	uint64_t max = 0;
	double bw, x, scale;
	size_t i, slots = ndays > 0 ? ndays : days->n;

	for (i = 0; i < days->n; i++)
		if (days->v[i].successful + days->v[i].failed > max)
			max = days->v[i].successful + days->v[i].failed;
	web_html_fmt(h, "<svg class=\"chart\" viewBox=\"0 0 %.0f %.0f\" "
	    "role=\"img\" aria-label=\"sessions per day\">", W, H);
	if (days->n == 0 || max == 0) {
		web_html_fmt(h, "<text x=\"%.0f\" y=\"%.0f\" "
		    "text-anchor=\"middle\">no sessions in this range</text>"
		    "</svg>", W / 2, H / 2);
		return;
	}
	bw = W / (double)slots;
	scale = (H - top - bottom) / (double)max;
	for (i = 0; i < days->n; i++) {
		const struct web_stat_key *d = &days->v[i];
		double ho = (double)d->successful * scale;
		double hf = (double)d->failed * scale;
		double base = H - bottom;
		size_t slot = i;
		time_t t;

		/* A day's place in the range: days without reports are
		 * gaps, so that a week of data over a year looks it. */
		if (ndays > 0) {
			if (web_parse_day(d->key, &t) == -1 || t < from ||
			    (size_t)((t - from) / 86400) >= ndays)
				continue;
			slot = (size_t)((t - from) / 86400);
		}
		x = (double)slot * bw;
		web_html_raw(h, "<g><title>");
		web_html_text(h, d->key);
		web_html_fmt(h, ": %llu successful, %llu failed</title>",
		    (unsigned long long)d->successful,
		    (unsigned long long)d->failed);
		if (d->successful > 0)
			web_html_fmt(h, "<rect x=\"%.2f\" y=\"%.2f\" "
			    "width=\"%.2f\" height=\"%.2f\" fill=\"" SVG_OK
			    "\"/>", x, base - ho, bw * 0.9, ho);
		if (d->failed > 0)
			/* At least a pixel: one failure among millions
			 * must still show. */
			web_html_fmt(h, "<rect x=\"%.2f\" y=\"%.2f\" "
			    "width=\"%.2f\" height=\"%.2f\" fill=\"" SVG_FAIL
			    "\"/>", x, base - ho - (hf < 1 ? 1 : hf), bw * 0.9,
			    hf < 1 ? 1 : hf);
		web_html_raw(h, "</g>");
	}
	web_html_fmt(h, "<line x1=\"0\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" "
	    "stroke=\"#555\"/>", H - bottom, W, H - bottom);
	web_html_fmt(h, "<text x=\"2\" y=\"12\">%llu</text>",
	    (unsigned long long)max);
	web_html_fmt(h, "<text x=\"2\" y=\"%.0f\">", H - 6);
	web_svg_day_label(h, days, from, 0, ndays);
	web_html_fmt(h, "</text><text x=\"%.0f\" y=\"%.0f\" "
	    "text-anchor=\"end\">", W - 2, H - 6);
	web_svg_day_label(h, days, from, slots - 1, ndays);
	web_html_raw(h, "</text></svg>");
}

void
web_svg_types(struct web_html *h, const struct web_stat_table *types)
{
	const double W = 720, row = 26, label = 260;
	uint64_t max = 0;
	size_t i;

	for (i = 0; i < types->n; i++)
		if (types->v[i].failed > max)
			max = types->v[i].failed;
	if (types->n == 0 || max == 0) {
		web_html_raw(h, "<p>No failed sessions in this range.</p>");
		return;
	}
	web_html_fmt(h, "<svg class=\"chart\" viewBox=\"0 0 %.0f %.0f\" "
	    "role=\"img\" aria-label=\"failures by result type\">", W,
	    row * (double)types->n);
	for (i = 0; i < types->n; i++) {
		const struct web_stat_key *t = &types->v[i];
		double y = row * (double)i;
		double w = (W - label - 80) * (double)t->failed /
		    (double)max;

		web_html_raw(h, "<g><title>");
		web_html_text(h, t->key);
		web_html_fmt(h, ": %llu sessions</title>",
		    (unsigned long long)t->failed);
		web_html_fmt(h, "<text x=\"%.0f\" y=\"%.0f\" "
		    "text-anchor=\"end\">", label - 6, y + 17);
		web_html_text(h, t->key);
		web_html_fmt(h, "</text><rect x=\"%.0f\" y=\"%.0f\" "
		    "width=\"%.2f\" height=\"%.0f\" fill=\"" SVG_FAIL "\"/>",
		    label, y + 4, w < 1 ? 1 : w, row - 8);
		web_html_fmt(h, "<text x=\"%.2f\" y=\"%.0f\">%llu</text></g>",
		    label + (w < 1 ? 1 : w) + 6, y + 17,
		    (unsigned long long)t->failed);
	}
	web_html_raw(h, "</svg>");
}

void
web_svg_spark(struct web_html *h, const struct web_stat_table *days)
{
	const double W = 120, H = 24;
	bool pen = false;
	size_t i;

	web_html_fmt(h, "<svg class=\"spark\" viewBox=\"0 0 %.0f %.0f\" "
	    "width=\"%.0f\" height=\"%.0f\" role=\"img\" "
	    "aria-label=\"share of successful sessions per day\">"
	    "<path fill=\"none\" stroke=\"" SVG_OK "\" stroke-width=\"1.5\" "
	    "d=\"", W, H, W, H);
	for (i = 0; i < days->n; i++) {
		uint64_t all = days->v[i].successful + days->v[i].failed;
		double x, y;

		if (all == 0) {
			pen = false;
			continue;
		}
		x = days->n > 1 ? W * (double)i / (double)(days->n - 1) : W / 2;
		y = 1 + (H - 2) * (double)days->v[i].failed / (double)all;
		web_html_fmt(h, "%c%.1f %.1f ", pen ? 'L' : 'M', x, y);
		pen = true;
	}
	web_html_raw(h, "\"/></svg>");
}
