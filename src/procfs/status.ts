// The few fields of /proc/PID/status the scan needs.

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
