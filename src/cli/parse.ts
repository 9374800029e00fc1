// Option-argument parsers shared by the commands: a bad value is a one-line usage error.
import { InvalidArgumentError } from '@commander-js/extra-typings';
import { threadCountError } from '../scan/threads.ts';

export const collectList = (v: string, prev: string[]) => [...prev, v];

export const collectPid = (v: string, prev: number[]) => {
  if (!/^[1-9]\d*$/.test(v))
    throw new InvalidArgumentError('expected a process ID (a positive integer).');
  return [...prev, Number(v)];
};

export const positiveInt = (v: string) => {
  if (!/^[1-9]\d*$/.test(v)) throw new InvalidArgumentError('expected a positive integer.');
  return Number(v);
};

/** A thread count, bounded by the CPUs (src/scan/threads.ts). */
export const threadCount = (v: string) => {
  const n = positiveInt(v);
  const bad = threadCountError(n);
  if (bad !== null) throw new InvalidArgumentError(`${bad}.`);
  return n;
};
