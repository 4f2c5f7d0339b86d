import { describe, expect, it } from 'vitest';
import { workerExecArgv } from './workers.js';

describe('workerExecArgv', () => {
  it("adds the young-generation cap to the primary's flags", () => {
    expect(workerExecArgv(['--enable-source-maps'], undefined)).toEqual(['--enable-source-maps', '--max-semi-space-size=4']);
  });

  it('leaves a semi-space size the operator chose, in the flags or in NODE_OPTIONS, alone', () => {
    expect(workerExecArgv(['--max-semi-space-size=32'], undefined)).toEqual(['--max-semi-space-size=32']);
    expect(workerExecArgv(['--min_semi_space_size=8'], undefined)).toEqual(['--min_semi_space_size=8']);
    expect(workerExecArgv([], '--max-old-space-size=512 --max_semi_space_size=16')).toEqual([]);
  });
});
