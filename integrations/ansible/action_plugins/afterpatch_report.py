# afterpatch_report: rolling-restart.yml's controller side in one task and without a module: saves
# a batch's host results (JSON Lines) into the report directory and, when asked, merges every saved
# result into fleet.json and fleet.txt with `afterpatch report` and shows the table. An action
# plugin runs inside Ansible's own worker on the controller: no module is shipped and started for
# what touches only the controller's files (each such module task cost 0.3-0.6 s, more than the
# rest of a batch: bench/fleet). Files are written whole (a temporary file renamed over the name)
# and never through a symbolic link; `afterpatch report` runs with an argv, never a shell.
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence

from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.plugins.action import ActionBase

DOCUMENTATION = r"""
---
module: afterpatch_report
short_description: Save host results and write the fleet report on the controller
description:
  - Writes O(results) (JSON Lines, one host result a line) to C(DIR/hosts/NAME), after removing
    the previous run's C(DIR/hosts) when O(fresh) is true.
  - Then, for each file named in O(render), runs C(afterpatch report) (C(--json) for
    C(fleet.json)) over every C(DIR/hosts/*.jsonl) and writes its output to C(DIR/FILE); shows
    the text table. Exit status 1 of C(afterpatch report) only means some host needs work.
  - Runs on the controller only; changes nothing on any host, also under check mode.
options:
  dir: {description: the report directory, required: true, type: path}
  name: {description: the file under DIR/hosts that receives O(results), type: str}
  results: {description: JSON Lines to save as DIR/hosts/NAME, type: str}
  fresh: {description: remove the previous DIR/hosts first, type: bool, default: false}
  render: {description: which of fleet.json and fleet.txt to write, type: list, default: []}
  cli: {description: the afterpatch CLI on the controller, type: str, default: afterpatch}
"""

OUTPUTS = {"fleet.json": ["--json"], "fleet.txt": []}


class ReportError(Exception):
    pass


def write_whole(path, data):
    """Writes data to path through a new file renamed over it: a reader never sees half a file,
    and a symbolic link at path is replaced, not followed."""
    parent = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=".afterpatch-", dir=parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def empty_hosts_dir(hosts):
    """The previous run's results go; a symbolic link in its place is removed, not followed."""
    if not os.path.lexists(hosts):
        return
    if os.path.isdir(hosts) and not os.path.islink(hosts):
        shutil.rmtree(hosts)
    else:
        os.unlink(hosts)


def ensure_dir(path):
    os.makedirs(path, mode=0o755, exist_ok=True)
    if os.path.islink(path) or not os.path.isdir(path):
        raise ReportError("%s is not a directory" % path)


def render(cli, files, which):
    """Runs `afterpatch report` once per output, all at once; {file: text}."""
    procs = {}
    try:
        for name in which:
            argv = [cli, "report"] + OUTPUTS[name] + files
            try:
                procs[name] = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                )
            except OSError as e:
                raise ReportError(
                    "cannot run %s report on the controller (%s): install afterpatch there or "
                    "set afterpatch_report_cli" % (cli, e.strerror or e)
                )
        out = {}
        for name, p in procs.items():
            stdout, stderr = p.communicate()
            if p.returncode not in (0, 1):
                last = to_text(stderr, errors="surrogate_or_replace").strip().splitlines()
                raise ReportError(
                    "%s report exited %d: %s" % (cli, p.returncode, last[-1] if last else "")
                )
            out[name] = to_text(stdout, errors="surrogate_or_replace")
        return out
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()


def json_lines(results):
    """The results as JSON Lines. Ansible turns a templated string that reads as one Python
    literal (one host's JSON line, in a batch of one) into that dict: back to JSON then."""
    if isinstance(results, str):
        return results
    if isinstance(results, Mapping):
        results = [results]
    if isinstance(results, Sequence):
        return "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in results)
    raise ReportError("results: JSON Lines or a list of results, not %s" % type(results).__name__)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _VALID_ARGS = frozenset(("dir", "name", "results", "fresh", "render", "cli"))

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        args = self._task.args
        result["changed"] = False
        try:
            report_dir = args.get("dir")
            if not report_dir:
                raise ReportError("dir is required")
            report_dir = os.path.abspath(os.path.expanduser(to_text(report_dir)))
            which = args.get("render") or []
            if isinstance(which, str):
                which = [which]
            unknown = [w for w in which if w not in OUTPUTS]
            if unknown:
                raise ReportError("render: %s is not fleet.json or fleet.txt" % unknown[0])
            hosts = os.path.join(report_dir, "hosts")
            ensure_dir(report_dir)
            if args.get("fresh"):
                empty_hosts_dir(hosts)
            ensure_dir(hosts)
            if args.get("results") is not None:
                name = to_text(args.get("name") or "")
                if not name.endswith(".jsonl") or "/" in name or name.startswith("."):
                    raise ReportError("name: %r is not a plain NAME.jsonl" % name)
                write_whole(os.path.join(hosts, name), to_bytes(json_lines(args["results"])))
                result["saved"] = os.path.join(hosts, name)
            if which:
                files = sorted(
                    os.path.join(hosts, n)
                    for n in os.listdir(hosts)
                    if n.endswith(".jsonl") and not n.startswith(".")
                )
                if files:
                    out = render(to_text(args.get("cli") or "afterpatch"), files, which)
                    for name in which:
                        write_whole(os.path.join(report_dir, name), to_bytes(out[name] + "\n"))
                    result["written"] = [os.path.join(report_dir, n) for n in which]
                    if "fleet.txt" in out:
                        # The table, shown like debug's msg (without -v).
                        result["msg"] = out["fleet.txt"].splitlines()
                        result["_ansible_verbose_always"] = True
        except (OSError, ReportError) as e:
            result["failed"] = True
            result["msg"] = "afterpatch report on the controller: %s" % (
                "%s: %s" % (e.filename, e.strerror) if getattr(e, "filename", None) else e
            )
        return result
