// The command line as data, read from the commander program in the built bundle itself
// (dist/afterpatch.cjs exports buildProgram), so the man page and the shell completions are
// generated from exactly what `afterpatch --help` prints. Used by manpage.mjs and completion.mjs.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';

/**
 * @typedef {{ flags: string, short: string | undefined, long: string | undefined,
 *   names: string[], arg: string | undefined, argOptional: boolean, choices: string[] | undefined,
 *   mandatory: boolean, repeatable: boolean, description: string, help: string }} OptionModel
 * @typedef {{ name: string, args: string, description: string, options: OptionModel[],
 *   epilogue: string }} CommandModel
 * @typedef {{ name: string, version: string, description: string, options: OptionModel[],
 *   commands: CommandModel[] }} ProgramModel
 */

/** Loads buildProgram() from the CommonJS bundle (default dist/afterpatch.cjs). */
export function loadProgram(bundle = 'dist/afterpatch.cjs') {
  const file = resolve(bundle);
  if (!existsSync(file)) throw new Error(`${file} is missing: run "npm run build" first`);
  const mod = createRequire(import.meta.url)(file);
  if (typeof mod.buildProgram !== 'function') throw new Error(`${file} exports no buildProgram`);
  return mod.buildProgram();
}

/** What addHelpText('after', …) prints after a command's help, as commander would print it. */
function epilogueOf(cmd) {
  let text = '';
  cmd.emit('afterHelp', { error: false, command: cmd, write: (s) => (text += s) });
  return text.trim();
}

/** @returns {OptionModel} */
function optionModel(help, opt) {
  const arg = /[<[]([^>\]]+)[>\]]/.exec(opt.flags)?.[1];
  return {
    flags: help.optionTerm(opt),
    short: opt.short,
    long: opt.long,
    names: [opt.short, opt.long].filter((n) => n !== undefined),
    arg,
    argOptional: opt.optional === true,
    choices: opt.argChoices ? [...opt.argChoices] : undefined,
    mandatory: opt.mandatory === true,
    // Collected into an array (--unit, --pid, ...): may be given more than once.
    repeatable: Array.isArray(opt.defaultValue),
    description: opt.description,
    // The description exactly as --help shows it, with choices and default.
    help: help.optionDescription(opt),
  };
}

/** @returns {ProgramModel} */
export function programModel(program = loadProgram()) {
  const help = program.createHelp();
  return {
    name: program.name(),
    version: program.version() ?? '',
    description: program.description(),
    options: help.visibleOptions(program).map((o) => optionModel(help, o)),
    commands: help.visibleCommands(program).map((cmd) => ({
      name: cmd.name(),
      args: cmd.registeredArguments
        .map((a) => (a.required ? `<${a.name()}>` : `[${a.name()}]`))
        .join(' '),
      description: cmd.description(),
      options: help.visibleOptions(cmd).map((o) => optionModel(help, o)),
      epilogue: epilogueOf(cmd),
    })),
  };
}
