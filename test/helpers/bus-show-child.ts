// Run inside a systemd sandbox by test/systemd/bus-client.integration.test.ts: the same questions
// to PID 1 over its private bus and through systemctl, printed side by side as JSON.
//   bus-show-child.ts UNIT...
import { BusClient } from '../../src/systemd/bus-client.ts';
import { type Manager, SystemctlClient } from '../../src/systemd/client.ts';
import { PLAN_PROPERTIES, SOCKET_PROPERTIES } from '../../src/systemd/properties.ts';

const units = process.argv.slice(2);
const system: Manager = { type: 'system' };
const fellBack: string[] = [];
const bus = new BusClient({ onFallback: (why) => fellBack.push(why) });
const ctl = new SystemctlClient();
const props = [...new Set([...PLAN_PROPERTIES, ...SOCKET_PROPERTIES, 'MainPID', 'Names'])];
const obj = <V>(m: Map<string, V>) => Object.fromEntries(m);
const out = {
  bus: obj(await bus.show(system, units, props)),
  systemctl: obj(await ctl.show(system, units, props)),
  busActive: obj(await bus.activeStates(system, units)),
  systemctlActive: obj(await ctl.activeStates(system, units)),
  fellBack,
};
process.stdout.write(`${JSON.stringify(out)}\n`);
