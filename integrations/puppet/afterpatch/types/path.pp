# @summary An absolute path made of characters that need no quoting anywhere.
#
# Puppet runs a file's `validate_cmd` as one command string (through /bin/sh when it holds shell
# characters), so the CLI and configuration paths that end up in it are restricted to these.
type Afterpatch::Path = Pattern[/\A\/[A-Za-z0-9._\/+@-]+\z/]
