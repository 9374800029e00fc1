// The few fields of /proc/PID/status (and /proc/PID/stat) the scan needs.

export interface ProcStatus {
  name: string;
  ppid: number;
  uid: number;
  /** Number of PID namespaces the process is visible in, counted from the reader's (NSpid field). */
  nsDepth: number;
}

export function parseStatus(text: string): ProcStatus {
  const st: ProcStatus = { name: '', ppid: 0, uid: -1, nsDepth: 1 };
  for (const line of text.split('\n')) {
    const tab = line.indexOf(':');
    if (tab === -1) continue;
    const key = line.slice(0, tab);
    const value = line.slice(tab + 1).trim();
    if (key === 'Name') st.name = unescapeName(value);
    else if (key === 'PPid') st.ppid = Number(value);
    else if (key === 'Uid') st.uid = Number(value.split(/\s+/)[0]);
    else if (key === 'NSpid') st.nsDepth = value.split(/\s+/).length;
  }
  return st;
}

/** status escapes "\n" and "\\" in the command name. */
function unescapeName(v: string): string {
  return v.includes('\\') ? v.replaceAll('\\n', '\n').replaceAll('\\\\', '\\') : v;
}

/** argv from the NUL-separated cmdline file. */
export function parseCmdline(text: string): string[] {
  if (text === '') return [];
  const parts = text.split('\0');
  if (parts[parts.length - 1] === '') parts.pop();
  return parts;
}

/**
 * The fields of a /proc/PID/stat line from field 3 (state) on; null when malformed. The command
 * name (field 2) may hold spaces and parentheses: fields are counted after the last ")".
 */
export function statFields(stat: string): string[] | null {
  const close = stat.lastIndexOf(')');
  return close === -1 ? null : stat.slice(close + 2).split(' ');
}
