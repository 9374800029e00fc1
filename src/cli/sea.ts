/**
 * Inside a Node single executable (`npm run package:sea`) the bundle is the program whatever the
 * binary is called, and process.argv[1] is only the name it was started by. node:sea exists
 * from Node 20.12 (not in 18), `require` not in ES modules (tsx): both mean "not a SEA".
 */
export function isSea(): boolean {
  try {
    return (require('node:sea') as typeof import('node:sea')).isSea();
  } catch {
    return false;
  }
}
