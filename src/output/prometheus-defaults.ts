// Defaults of the Prometheus output that the command line shows in --help: a leaf module, so that
// defining the options does not load the exposition code (and what it imports) at every start.

/** Most per-unit series written by default (`--max-unit-series`). */
export const DEFAULT_MAX_UNIT_SERIES = 100;
