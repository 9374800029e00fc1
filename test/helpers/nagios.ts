// The Nagios plugin output syntax, for tests of `afterpatch check` (docs/monitoring.md).

// One perfdata item per the Nagios plugin guidelines: 'label'=value[UOM];[warn];[crit];[min];[max]
// where warn and crit are ranges ([@][start:][end], start may be ~).
const NUM = String.raw`-?\d+(?:\.\d+)?`;
const RANGE = `@?(?:(?:${NUM}|~)?:)?(?:${NUM})?`;
const PERF_ITEM = `'[^'=]+'=${NUM}(?:s|ms|us|%|B|KB|MB|TB|c)?;${RANGE};${RANGE};(?:${NUM})?(?:;(?:${NUM})?)?`;

/** `AFTERPATCH STATE - summary | perfdata`: groups 1 state, 2 summary, 3 perfdata. */
export const FIRST_LINE = new RegExp(
  String.raw`^AFTERPATCH (OK|WARNING|CRITICAL|UNKNOWN) - ([^|\n]+) \| (${PERF_ITEM}(?: ${PERF_ITEM})*)$`,
);

/** An error: UNKNOWN and a message, no perfdata. */
export const ERROR_LINE = /^AFTERPATCH UNKNOWN - [^|\n]+\n$/;
