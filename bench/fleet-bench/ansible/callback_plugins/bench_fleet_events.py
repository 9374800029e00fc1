# bench/fleet: play, task and result times as JSON lines in $BENCH_FLEET_EVENTS, with the CPU
# spent so far by this process (cs), by its reaped children (cc: workers, ssh, local modules),
# and, when the bench gives their cgroups, by the controller as a whole (ctl: everything the
# ansible command started, SSH connection-sharing masters included) and by the hosts (hosts).
from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase


def cgroup_cpu(paths):
    """Seconds of CPU the cgroups have used (cpu.stat usage_usec), or None when unreadable."""
    total = 0
    for path in paths:
        try:
            with open(os.path.join(path, "cpu.stat"), encoding="ascii") as f:
                for line in f:
                    if line.startswith("usage_usec "):
                        total += int(line.split()[1])
        except OSError:
            return None
    return total / 1e6


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_fleet_events"
    CALLBACK_NEEDS_ENABLED = False

    def __init__(self):
        super().__init__()
        path = os.environ.get("BENCH_FLEET_EVENTS")
        self._f = open(path, "a", encoding="utf-8") if path else None
        self._run = "%d-%d" % (os.getpid(), time.time_ns())
        self._ctl = [p for p in os.environ.get("BENCH_FLEET_CONTROLLER_CGROUP", "").split(":") if p]
        self._hosts = [p for p in os.environ.get("BENCH_FLEET_HOST_CGROUPS", "").split(":") if p]

    def _emit(self, ev, cgroups=False, **kw):
        if self._f is None:
            return
        c = os.times()
        kw.update(
            t=time.time(),
            ev=ev,
            run=self._run,
            cs=c.user + c.system,
            cc=c.children_user + c.children_system,
        )
        if cgroups and self._ctl:
            kw.update(ctl=cgroup_cpu(self._ctl), hosts=cgroup_cpu(self._hosts))
        self._f.write(json.dumps(kw) + "\n")
        self._f.flush()

    def v2_playbook_on_start(self, playbook):
        self._emit("start", cgroups=True)

    def v2_playbook_on_play_start(self, play):
        self._emit("play", cgroups=True, name=play.get_name())

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._emit("task", cgroups=True, name=task.get_name())

    def v2_runner_on_ok(self, result):
        self._emit("ok", host=result._host.get_name(), task=result._task.get_name())

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._emit("failed", host=result._host.get_name(), task=result._task.get_name())

    def v2_playbook_on_stats(self, stats):
        self._emit("end", cgroups=True)
