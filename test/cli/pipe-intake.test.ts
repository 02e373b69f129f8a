import { it } from 'node:test';
import assert from 'node:assert/strict';
import { isPipeIntake } from '../../src/cli/pipe-intake.js';

/** R6: only the inject command gets the MTA's exit 75; a word "inject" elsewhere does not. */
it('R6: a command line is a pipe intake only when its command is inject', () => {
  const cases: Array<[string[], boolean]> = [
    [['inject', 'm.eml'], true],
    [['-c', 'cfg.yaml', 'inject'], true],
    [['--config', 'cfg.yaml', '--recipient=a@x.test', 'inject'], true],
    [['--bogus', 'inject'], true],
    [['explain', 'inject'], false],
    [['tickets', 'update', '1', '--comment', 'inject'], false],
    [['-c', 'inject', 'tickets', 'list'], false],
  ];
  for (const [argv, want] of cases) assert.equal(isPipeIntake(argv), want, argv.join(' '));
});
