# Ansible module `afterpatch` (Python): scans this host, optionally restarts what runs outdated
# code, and says whether a reboot is needed, by running the installed afterpatch CLI.
#
# Python because Ansible pipelines Python modules (AnsiballZ: one SSH command per host and task)
# and cannot pipeline any other language: the Node.js module (library/afterpatch_node) costs six
# SSH commands per call. Both return the same combined per-host object with the same changed,
# failed and check-mode logic (test/fleet/ansible-module.test.ts runs one table of cases against
# both). The CLI runs with argument lists, never a shell. Options, return values: docs/fleet.md.
from __future__ import annotations

DOCUMENTATION = r"""
module: afterpatch
short_description: Find and restart what runs outdated code after a patch; say when to reboot
description:
  - Runs the installed afterpatch CLI (C(scan), C(restart), C(reboot-required), all C(--json))
    and returns one combined per-host object that C(afterpatch report) merges into a fleet view.
  - The same module as the Node.js C(afterpatch_node), written in Python so that Ansible
    pipelines it.
options:
  state:
    description:
      - C(scanned) scans and answers the reboot question, changing nothing.
      - C(restarted) restarts what runs outdated code (C(restart --yes)), then scans again.
    type: str
    choices: [scanned, restarted]
    default: scanned
  lib:
    description: Only stale files whose path matches this regular expression (C(--lib)).
    type: str
  units:
    description: Only these unit globs (C(--unit)); a list or a comma-separated string.
    type: raw
  fixed:
    description:
      - Advisory (C(--fixed)): PACKAGE=VERSION items, a list, a comma-separated string or a
        mapping package to version; restart only units running older code, and the scan carries
        the advisories' verdicts for the report's CVE table (docs/advisories.md).
    type: raw
  exclude:
    description: Unit globs never restarted by this task; a list or a comma-separated string.
    type: raw
  reboot_sentinel:
    description: Write /run/reboot-required when a reboot is needed (not in check mode).
    type: bool
    default: false
  force:
    description: Restart units again that an earlier restart left stale or failed.
    type: bool
    default: false
  afterpatch:
    description: Path of the CLI (looked up on PATH when it has no slash).
    type: str
    default: afterpatch
  health_command:
    description:
      - An argv (a list, or a JSON list) run on the host after a restart that did not fail (not in
        check mode), with no shell; it must exit 0. Run C(health_retries) more times,
        C(health_delay) seconds apart, while it does not; then the host fails. In the module,
        not a task of its own, so a batch costs no extra round trip.
    type: raw
  health_retries:
    description: Attempts of C(health_command) after the first.
    type: int
    default: 5
  health_delay:
    description: Seconds between attempts of C(health_command).
    type: float
    default: 3
  known_version:
    description:
      - The CLI's version as a scan of this run already read it (the gather's
        C(afterpatch_version)); the module then skips its own C(--version) run, one start-up of
        the CLI less. The minimum version is still checked.
    type: str
notes:
  - Check mode runs C(restart --dry-run): nothing is restarted and no sentinel written.
author: afterpatch contributors
"""

EXAMPLES = r"""
- name: Restart what runs outdated code
  afterpatch:
    state: restarted
    lib: 'libssl|libcrypto'
    exclude: [postgresql*.service]
  register: patched
"""

RETURN = r"""
host: {description: the host's name, returned: always, type: str}
scan: {description: the slim scan (docs/fleet.md), returned: success, type: dict}
restart: {description: restart --json (a dry run in check mode) plus excluded, returned: success, type: dict}
reboot: {description: reboot-required --json, returned: success, type: dict}
health: {description: "the health command: argv, rc, attempts, stdout, stderr", returned: when run, type: dict}
needs_restart: {description: something still runs outdated code, returned: success, type: bool}
needs_reboot: {description: a reboot is required, returned: success, type: bool}
"""

import json
import os
import re
import socket
import subprocess
import sys
import time
import traceback

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.parsing.convert_bool import boolean

# The oldest afterpatch whose `scan`/`restart`/`reboot-required --json` this module reads.
MIN_VERSION = "0.1.0"
ACTIONS = ("restart", "reload", "daemon-reexec", "reexec-user-manager")


class ModuleError(Exception):
    pass


CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")


def one_line(msg):
    """msg without control characters (\\xNN instead): it may quote input, even Ansible's own."""
    return CONTROLS.sub(lambda m: "\\x%02x" % ord(m.group(0)), str(msg))


class Module(AnsibleModule):
    """AnsibleModule whose msg is always one line without controls, also in its own errors."""

    def fail_json(self, msg, **kwargs):
        super().fail_json(msg=one_line(msg), **kwargs)

    def exit_json(self, **kwargs):
        if "msg" in kwargs:
            kwargs["msg"] = one_line(kwargs["msg"])
        super().exit_json(**kwargs)


def to_list(name, v):
    """A YAML list, a JSON list or a comma-separated string (ad-hoc `-a` values are strings)."""
    if v is None or v == "":
        return []
    if isinstance(v, list):
        return [s for s in (str(x).strip() for x in v) if s != ""]
    if isinstance(v, str):
        s = v.strip()
        if s.startswith("["):
            try:
                return to_list(name, json.loads(s))
            except ValueError:
                pass  # not JSON: the comma-separated form
        return [x for x in (p.strip() for p in s.split(",")) if x != ""]
    raise ModuleError(
        "%s: expected a list or a comma-separated string, got %s" % (name, json.dumps(v))
    )


def glob_to_regexp(glob):
    """Shell-style glob (*, ?, [...]) as systemctl matches unit names."""
    out = ""
    i = 0
    while i < len(glob):
        c = glob[i]
        if c == "*":
            out += ".*"
        elif c == "?":
            out += "."
        elif c == "[":
            close = glob.find("]", i + 2)
            if close == -1:
                out += "\\["
            else:
                body = glob[i + 1 : close]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out += "[" + body.replace("\\", "\\\\") + "]"
                i = close
        else:
            out += re.escape(c)
        i += 1
    return re.compile("^" + out + r"\Z")


def run_all(argvs):
    """Runs the argvs at once (never a shell); for each (code, stdout, stderr), or (None, error,
    "") when it could not start. At once: each is a Node.js start-up and a scan, and the hosts
    have cores to spare while the module waits."""
    env = dict(os.environ, NO_COLOR="1")
    procs = []
    for argv in argvs:
        try:
            procs.append(
                subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    env=env,
                )
            )
        except OSError as e:
            procs.append(e)
    out = []
    for p in procs:
        if isinstance(p, OSError):
            out.append((None, p, ""))
            continue
        stdout, stderr = p.communicate()
        out.append(
            (p.returncode, stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace"))
        )
    return out


def run(argv):
    return run_all([argv])[0]


def last_line(s):
    lines = [line for line in (s or "").strip().split("\n") if line.strip() != ""]
    return lines[-1].strip() if lines else ""


def json_of(ran, bin_, ok_codes, what):
    """The JSON document of a `--json` run that exited with a code meaning findings, not errors
    (its stdout may be the document already parsed: see parsed)."""
    code, out, err = ran
    if code is None:
        raise ModuleError("cannot run %s %s: %s" % (bin_, what, out))
    try:
        doc = out if isinstance(out, dict) else json.loads(out)
    except ValueError:
        doc = None
    if code not in ok_codes or not isinstance(doc, dict):
        why = last_line(err) or last_line(out) or "exit status %d" % code
        raise ModuleError("afterpatch %s failed (exit status %d): %s" % (what, code, why))
    return doc


def run_json(bin_, args, ok_codes, what):
    """Runs `afterpatch ARGS --json`, accepting the exit codes that mean findings, not errors."""
    return json_of(run([bin_] + args), bin_, ok_codes, what)


def version_key(v):
    def num(x):
        m = re.match(r"\d+", x)
        return int(m.group(0)) if m else 0

    parts = [num(x) for x in re.split(r"[.+-]", v)[:3]]
    return parts + [0] * (3 - len(parts))


def slim_scan(doc):
    """The scan as the combined per-host format carries it: summary and slim entries."""
    entries = []
    for e in doc.get("entries") or []:
        names = {
            f["package"]["name"]
            for f in e.get("files") or []
            if f.get("package") and f["package"].get("name")
        }
        action = e.get("action")
        entries.append(
            {
                "type": e.get("type"),
                "key": e.get("key"),
                "unit": e.get("unit"),
                "severity": e.get("severity"),
                "pids": e.get("pids"),
                "names": e.get("names"),
                "packages": sorted(names),
                "action": action.get("kind") if action else None,
            }
        )
    out = {
        "format": doc.get("format"),
        "formatVersion": doc.get("formatVersion"),
        "afterpatch": doc.get("afterpatch"),
        "hostname": doc.get("hostname"),
        "time": doc.get("time"),
        "asRoot": doc.get("asRoot"),
        "summary": doc.get("summary"),
        "entries": entries,
        "warnings": doc.get("warnings") or [],
    }
    # A partial scan (no root or CAP_SYS_PTRACE) never reads as clean in the report; older CLIs
    # leave it out (the report then judges from asRoot and unreadable).
    if isinstance(doc.get("partial"), bool):
        out["partial"] = doc["partial"]
    # With `fixed`: the advisories' verdicts, for the report's CVE table.
    if doc.get("advisories") is not None:
        out["advisoryVerdict"] = doc.get("advisoryVerdict")
        out["advisories"] = doc.get("advisories")
    return out


def plural(n, word, many=None):
    return "%d %s" % (n, word if n == 1 else (many or word + "s"))


def filters_of(o):
    filters = []
    if o["lib"] is not None:
        filters += ["--lib", o["lib"]]
    for u in o["units"]:
        filters += ["--unit", u]
    return filters + fixed_args(o)


def fixed_args(o):
    """--fixed: restart only units running a vulnerable version; the scan reports the verdicts."""
    args = []
    for f in o["fixed"]:
        args += ["--fixed", f]
    return args


def fixed_list(raw):
    """fixed: ["openssl=3.0.14-1~deb12u1"] or {openssl: "3.0.14-1~deb12u1"}."""
    items = (
        ["%s=%s" % (k, v) for k, v in raw.items()]
        if isinstance(raw, dict)
        else to_list("fixed", raw)
    )
    for f in items:
        if not re.match(r"^[^=\s]+=[^=\s]+$", f):
            raise ModuleError("fixed: %s is not PACKAGE=VERSION" % json.dumps(f))
    return items


def sentinel_args(o):
    return ["--sentinel"] if o["reboot_sentinel"] and not o["check_mode"] else []


def read_argv(o):
    """The scan and the reboot question in one CLI run (`scan --reboot`: the verdict is never
    narrowed by the filters, as reboot-required's own)."""
    return [o["afterpatch"], "scan", "--json", "--reboot"] + sentinel_args(o) + filters_of(o)


def refused(ran, option, usage_code):
    """A CLI older than `option` refuses it: a usage error, before doing anything."""
    code, _, err = ran
    return code == usage_code and ("'%s'" % option) in (err or "")


def predates_reboot_flag(ran):
    """A CLI older than `scan --reboot` (scan's usage errors are exit 2)."""
    return refused(ran, "--reboot", 2)


def parsed(ran):
    """ran with its stdout parsed when it is a JSON object (parsed once: a scan of thousands of
    stale processes is megabytes), else as it was."""
    code, out, err = ran
    if code is None or isinstance(out, dict):
        return ran
    try:
        doc = json.loads(out)
    except ValueError:
        return ran
    return (code, doc, err) if isinstance(doc, dict) else ran


def version_in(ran):
    """The CLI's version as a successful scan names it, else None."""
    code, doc, _ = ran
    v = doc.get("afterpatch") if code in (0, 1, 3) and isinstance(doc, dict) else None
    return v if isinstance(v, str) and re.fullmatch(r"\d+\.\d+\.\d+\S*", v) else None


def scan_and_reboot(o, ran=None):
    """The scan document and the reboot verdict (the reboot part unchecked: see afterpatch).
    `ran`: the `scan --reboot` run when it already ran."""
    bin_ = o["afterpatch"]
    ran = ran if ran is not None else parsed(run(read_argv(o)))
    if predates_reboot_flag(ran):
        # An older CLI: the scan and reboot-required, at once, as this module did before.
        scan_ran, reboot_ran = run_all(
            [
                [bin_, "scan", "--json"] + filters_of(o),
                [bin_, "reboot-required", "--json"] + sentinel_args(o),
            ]
        )
        scan_doc = json_of(scan_ran, bin_, (0, 1, 3), "scan")
        return scan_doc, json_of(reboot_ran, bin_, (0, 1), "reboot-required")
    # 3: a partial scan (no root) or an advisory that cannot be told; the document says which.
    scan_doc = json_of(ran, bin_, (0, 1, 3), "scan")
    return scan_doc, scan_doc.pop("reboot", None)


def afterpatch(o, host, base, read=None):
    """Everything after the version check; the combined per-host result (failed or not).
    `read`: the `scan --reboot` run when it already ran (a read-only call)."""
    bin_ = o["afterpatch"]
    filters = filters_of(o)
    excluded = [glob_to_regexp(g) for g in o["exclude"]]

    def is_excluded(e):
        return bool(e.get("unit")) and any(r.match(e["unit"]) for r in excluded)

    restart = None
    changed = False
    problems = []
    if o["state"] == "restarted":
        # Plan first (a dry run changes nothing), drop the excluded units, then restart exactly
        # the remaining units by name: restart has no --exclude, and a temporary config would
        # replace the host's own /etc/afterpatch/afterpatch.toml.
        # Without exclude the plan is restart's own: no dry run first (a Node.js start-up and a
        # scan less); a host with nothing to restart then returns restart's empty real run.
        targets = None
        skipped = []
        if o["exclude"] or o["check_mode"]:
            dry = ["restart", "--dry-run", "--json"] + filters
            dry += ["--force"] if o["force"] else []
            planned = run_json(bin_, dry, (0, 1, 2), "restart --dry-run")
            plan = planned.get("plan") or []
            keep = [e for e in plan if not is_excluded(e)]
            skipped = [e.get("unit") for e in plan if is_excluded(e)]
            targets = []
            for e in keep:
                if e.get("action") in ACTIONS and e.get("unit") and e["unit"] not in targets:
                    targets.append(e["unit"])
        if targets is not None and (o["check_mode"] or not targets):
            restart = dict(planned, plan=keep, results=[], excluded=skipped)
        else:
            args = ["restart", "--yes", "--json"]
            if o["lib"] is not None:
                args += ["--lib", o["lib"]]
            args += fixed_args(o)
            if o["force"]:
                args.append("--force")
            # Exact unit names; a name is its own glob (systemd escapes \x2d and the like literally).
            for u in targets if targets is not None else o["units"]:
                args += ["--unit", u]
            # --rescan: the same run then scans again and answers the reboot question, one CLI
            # process a batch. Not with exclude: its restart names the planned units, while the
            # verification covers every unit of `units`.
            rescan = ["--rescan"] + sentinel_args(o) if targets is None else []
            ran = run([bin_] + args + rescan)
            if rescan and refused(ran, "--rescan", 3):
                ran = run([bin_] + args)  # an older CLI: nothing was done, it refused the option
            # 4: acted but the outcomes were not saved; 5: stopped by a signal. Both still print
            # what was done, so changed stays true; any outcome but verified is a failure.
            done = json_of(ran, bin_, (0, 1, 2, 4, 5), "restart")
            after = done.pop("rescan", None)
            done.pop("rescanError", None)  # no rescan: the scan below runs on its own and says why
            if isinstance(after, dict):
                read = (0, after, "")
            restart = dict(done, excluded=skipped)
            results = done.get("results") or []
            changed = any(r.get("action") in ACTIONS for r in results)
            for r in results:
                if r.get("outcome") != "verified":
                    problems.append("%s: %s" % (r.get("unit") or r.get("key"), r.get("outcome")))
            if done.get("stateError"):
                problems.append("outcomes not saved: %s" % done["stateError"])
            if done.get("interrupted"):
                problems.append("interrupted by %s" % done["interrupted"])

    # The scan (after a restart: the verification) and the reboot question.
    scan_doc, reboot = scan_and_reboot(o, read)
    scan = slim_scan(scan_doc)
    # Fail closed: no verdict read is no answer, never "no reboot required".
    if not isinstance(reboot, dict) or not isinstance(reboot.get("required"), bool):
        raise ModuleError(
            "afterpatch scan --reboot gave no reboot verdict (reboot: %s)"
            % json.dumps(reboot, separators=(",", ":"))[:200]
        )
    stale = [e for e in scan["entries"] if e["severity"] == "code"]
    if restart is not None and not o["check_mode"]:
        # A unit restarted but found stale again by the verification scan stayed stale.
        stale_units = {e["unit"] for e in stale if e["unit"]}
        for r in restart.get("results") or []:
            if r.get("outcome") == "verified" and r.get("unit") in stale_units:
                problems.append(
                    "%s: still stale in the verification scan after its restart" % r["unit"]
                )
    parts = []
    if restart is not None and not o["check_mode"]:
        verified = [r for r in restart.get("results") or [] if r.get("outcome") == "verified"]
        parts.append("%s restarted and verified" % plural(len(verified), "unit"))
    elif restart is not None:
        n = len([e for e in restart["plan"] if e.get("action") in ACTIONS])
        parts.append("would restart %s" % plural(n, "unit"))
    if stale:
        verb = "runs" if len(stale) == 1 else "run"
        parts.append("%s still %s outdated code" % (plural(len(stale), "thing"), verb))
    else:
        parts.append("nothing runs outdated code")
    # `unknown`: evidence that could be a reason could not be read; never "no reboot required".
    parts.append(
        "a reboot is required"
        if reboot.get("required")
        else "reboot unknown (evidence unreadable)"
        if reboot.get("unknown")
        else "no reboot required"
    )
    failed = bool(problems)
    return dict(
        base,
        changed=changed,
        failed=failed,
        msg=(
            "restart problems on %s: %s" % (host, "; ".join(problems))
            if failed
            else "; ".join(parts) + "."
        ),
        time=scan["time"],
        needs_restart=bool(stale),
        needs_reboot=reboot.get("required") is True,
        scan=scan,
        restart=restart,
        reboot=reboot,
    )


def health_argv(raw):
    """health_command as an argv: a list, or a JSON list (ad-hoc `-a`); None when not given."""
    if raw is None or raw == "" or raw == []:
        return None
    if isinstance(raw, str) and raw.strip().startswith("["):
        try:
            raw = json.loads(raw)
        except ValueError:
            pass
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise ModuleError(
            "health_command: expected an argv, a list of strings, got %s" % json.dumps(raw)[:200]
        )
    return list(raw)


def check_health(o, result):
    """Runs the health command after the restart (as the playbook's task did: `until: rc == 0`,
    `retries` more attempts `delay` s apart); a failure fails the host with its last output line."""
    argv = o["health_command"]
    attempts = 0
    while True:
        attempts += 1
        code, out, err = run(argv)
        if code == 0 or attempts > o["health_retries"]:
            break
        time.sleep(o["health_delay"])
    result["health"] = dict(
        argv=argv,
        rc=code,
        attempts=attempts,
        stdout=out if code is not None else "",
        stderr=err if code is not None else str(out),
    )
    if code != 0:
        why = (
            "cannot run it: %s" % out
            if code is None
            else "exit status %d after %s%s"
            % (
                code,
                plural(attempts, "attempt"),
                (": " + (last_line(err) or last_line(out))) if (err or out).strip() else "",
            )
        )
        result.update(failed=True, msg="Health check command: %s" % why)


def check_cli(bin_, host, base, ran):
    """The CLI's version from `ran` (its --version run), or ModuleError with the message for a
    missing, broken or old CLI."""
    code, out, err = ran
    if code is None:
        errno_ = getattr(out, "errno", None)
        if isinstance(out, FileNotFoundError) or errno_ == 2:
            where = "" if "/" in bin_ else " on PATH"
            raise ModuleError(
                "afterpatch is not installed on %s (%s not found%s): install it (see "
                "docs/fleet.md) or set the afterpatch option to its path" % (host, bin_, where)
            )
        if isinstance(out, (PermissionError, IsADirectoryError)):
            name = "EACCES" if isinstance(out, PermissionError) else "EISDIR"
            raise ModuleError(
                "%s on %s is not an executable afterpatch (%s): set the afterpatch option to "
                "the CLI's path" % (bin_, host, name)
            )
        raise ModuleError("cannot run %s on %s: %s" % (bin_, host, out))
    m = re.search(r"\d+\.\d+\.\d+\S*", out)
    if code != 0 or m is None:
        raise ModuleError(
            "%s --version failed on %s (exit status %d): %s"
            % (bin_, host, code, last_line(err) or last_line(out))
        )
    return new_enough(m.group(0), host, base)


def new_enough(version, host, base):
    """version, or ModuleError when it is older than this module reads."""
    if version_key(version) < version_key(MIN_VERSION):
        base["afterpatch_version"] = version
        raise ModuleError(
            "afterpatch %s on %s is too old: this module needs %s or newer; upgrade it"
            % (version, host, MIN_VERSION)
        )
    return version


def new_module():
    return Module(
        argument_spec=dict(
            state=dict(type="str", default="scanned", choices=["scanned", "restarted"]),
            lib=dict(type="str"),
            units=dict(type="raw"),
            fixed=dict(type="raw"),
            exclude=dict(type="raw"),
            reboot_sentinel=dict(type="bool", default=False),
            force=dict(type="bool", default=False),
            afterpatch=dict(type="str"),
            health_command=dict(type="raw"),
            health_retries=dict(type="int", default=5),
            health_delay=dict(type="float", default=3),
            known_version=dict(type="str"),
        ),
        supports_check_mode=True,
    )


def main():
    try:
        module = new_module()
    except Exception as e:  # Ansible's own argument loading fails on a non-object arguments file
        print(
            json.dumps(
                {"failed": True, "msg": one_line("cannot read the module arguments: %s" % e)}
            )
        )
        sys.exit(1)
    p = module.params
    check_mode = boolean(module.check_mode, strict=False)
    host = socket.gethostname()
    base = {"host": host, "state": p["state"], "check_mode": check_mode}

    def fail(msg, **extra):
        result = dict(base, **extra)
        result.update(changed=False)
        module.fail_json(msg=msg, **result)

    try:
        o = {
            "state": p["state"],
            "lib": p["lib"] or None,
            "units": to_list("units", p["units"]),
            "fixed": fixed_list(p["fixed"]),
            "exclude": to_list("exclude", p["exclude"]),
            "reboot_sentinel": p["reboot_sentinel"],
            "force": p["force"],
            # Run by the standalone binary as its interpreter (docs/fleet.md): that binary.
            "afterpatch": p["afterpatch"]
            or os.environ.get("AFTERPATCH_ANSIBLE_CLI")
            or "afterpatch",
            "check_mode": check_mode,
            "health_command": health_argv(p["health_command"]),
            "health_retries": max(0, p["health_retries"]),
            "health_delay": max(0.0, p["health_delay"]),
        }
        known = p["known_version"] or None
        if known is not None and not re.fullmatch(r"\d+\.\d+\.\d+\S*", known):
            raise ModuleError("known_version: %s is not an afterpatch version" % json.dumps(known))
        for g in o["exclude"]:
            try:
                glob_to_regexp(g)
            except re.error as e:
                raise ModuleError(
                    "exclude: %s is not a valid unit glob (%s)" % (json.dumps(g), e)
                ) from None
    except ModuleError as e:
        module.fail_json(msg=str(e), changed=False)
        return
    try:
        version = [o["afterpatch"], "--version"]
        read = None
        if known is not None:
            # A scan of this run already asked this CLI (the playbook passes the gather's answer).
            base["afterpatch_version"] = new_enough(known, host, base)
        elif o["state"] == "scanned":
            # One CLI run: the scan answers the reboot question and names its version. Only when
            # it fails is --version asked, to say why (missing, not executable, too old). A CLI
            # that knows --reboot is new enough, so nothing (a sentinel) was written by an old one.
            read = parsed(run(read_argv(o)))
            named = version_in(read)
            if named is not None:
                base["afterpatch_version"] = new_enough(named, host, base)
            else:
                ran = read if read[0] is None else run(version)
                base["afterpatch_version"] = check_cli(o["afterpatch"], host, base, ran)
        else:
            base["afterpatch_version"] = check_cli(o["afterpatch"], host, base, run(version))
        result = afterpatch(o, host, base, read)
        if (
            o["health_command"] is not None
            and o["state"] == "restarted"
            and not check_mode
            and not result["failed"]
        ):
            check_health(o, result)
    except ModuleError as e:
        fail(str(e))
        return
    except Exception as e:  # noqa: BLE001 - one msg line; the trace under exception (-vvv)
        line = (str(e) or type(e).__name__).split("\n")[0]
        fail("afterpatch module error: %s" % line, exception=traceback.format_exc())
        return
    if result["failed"]:
        msg = result.pop("msg")
        result.pop("failed")
        module.fail_json(msg=msg, **result)
    else:
        module.exit_json(**result)


if __name__ == "__main__":
    main()
