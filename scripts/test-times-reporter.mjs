// A node:test reporter for the sharded fast suite (scripts/test-files.mjs): the duration (ms) of
// each file's suite (the outermost suites, named test/….test.ts), as one JSON object, which the
// runner merges into the record that balances the next run's shards.
export default async function* testTimes(source) {
  const times = {};
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const { nesting, name, details } = event.data;
    if (nesting === 0 && /^test\/.*\.test\.ts$/.test(name))
      times[name] = Math.round(details.duration_ms);
  }
  yield `${JSON.stringify(times)}\n`;
}
