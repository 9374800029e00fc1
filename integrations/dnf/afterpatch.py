# afterpatch for dnf 4: a dnf plugin. After a transaction that brought packages in (install,
# upgrade, downgrade, reinstall), it runs the afterpatch dnf hook once, with standard input from
# /dev/null and no shell, and passes what the hook prints to dnf's log. It never fails the
# transaction. What the hook does is hooks.dnf in /etc/afterpatch/afterpatch.toml ("list",
# "restart" or "off"). Documentation: docs/running-unattended.md.
#
# Installed as afterpatch.py in dnf's plugin directory (the output of
#   python3 -c 'import dnf.const; print(dnf.const.PLUGINPATH)'
# e.g. /usr/lib/python3.9/site-packages/dnf-plugins), with afterpatch.conf in /etc/dnf/plugins/.
#
# Why a plugin of its own rather than a post-transaction-actions line: that plugin fails on every
# matching action where it was built against libdnf bindings made with SWIG 4.1 or later (it calls
# libdnf.conf.ConfigParser_substitute, which those bindings no longer have: Amazon Linux 2023's
# 4.1.0, Debian 12's 4.3.1; fixed upstream in 2023), and then runs no action at all.
#
# Python 3.6 or later (RHEL 8's dnf).
import logging
import subprocess

import dnf
import dnf.transaction

HOOK = "/usr/lib/afterpatch/dnf-hook"

logger = logging.getLogger("dnf.plugin")


def _text(data):
    """The hook's output as text, one line per line, without a trailing newline."""
    return data.decode("utf-8", "replace").rstrip("\n")


class Afterpatch(dnf.Plugin):
    name = "afterpatch"

    def __init__(self, base, cli):
        super(Afterpatch, self).__init__(base, cli)
        self.base = base
        self.hook = HOOK

    def config(self):
        conf = self.read_config(self.base.conf)
        if conf.has_section("main") and conf.has_option("main", "hook"):
            self.hook = conf.get("main", "hook")

    def transaction(self):
        try:
            came_in = any(
                item.action in dnf.transaction.FORWARD_ACTIONS for item in self.base.transaction
            )
        except Exception as e:  # a dnf whose transaction items differ: run rather than miss one
            logger.debug("afterpatch: cannot tell what came in (%s); running the hook", e)
            came_in = True
        if not came_in:
            return
        try:
            proc = subprocess.Popen(
                [self.hook],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                close_fds=True,
            )
            out, err = proc.communicate()
        except OSError as e:
            logger.error("afterpatch: cannot run %s: %s", self.hook, e.strerror or e)
            return
        if out:
            logger.info("%s", _text(out))
        if err:
            logger.error("%s", _text(err))
        if proc.returncode != 0:
            logger.error("afterpatch: %s exited with status %d", self.hook, proc.returncode)
