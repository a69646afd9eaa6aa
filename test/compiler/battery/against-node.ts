/**
 * The scaffolding the engine-patch suites share (JS-FAST, JS-REGEX-FAST, JS-REGEX-REPEAT, JS-STRCAT…):
 * one describe block whose test compiles the cases into one battery module, runs it on the shared
 * engine and on Node 20 ({@link engineAgainstNode}), and expects no mismatch — a failure lists each
 * differing case with its area, source and both answers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineArtifact } from '../../../src/compiler/index.js';
import { tempDir } from '../../helpers.js';
import { sharedEngine } from '../plugin-host.js';
import { engineAgainstNode, type Case } from './harness.js';

/** A further test of the block: its own cases (and preamble), answered as on Node 20. */
export interface AgainstNodeTest {
  name: string;
  cases: readonly Case[];
  preamble?: string;
}

export interface AgainstNodeOptions {
  /** Code the cases share, placed before them in the battery module. */
  preamble?: string;
  /** Further batteries, each its own test after the first, in order. */
  also?: readonly AgainstNodeTest[];
  /** Declares more tests in the same describe block; `engine()` is the shared engine once built. */
  more?: (engine: () => EngineArtifact) => void;
}

/**
 * Declares `describe(title)` with one test, `name` (its id first), that answers every case on the
 * engine exactly as Node 20 does — and one more such test for each of `options.also`.
 */
export function describeAgainstNode(title: string, name: string, cases: readonly Case[], options: AgainstNodeOptions = {}): void {
  describe(title, () => {
    let engine: EngineArtifact | undefined;
    const dir = tempDir(`uee-${name.split(' ')[0]!.toLowerCase()}`);
    const built = (): EngineArtifact => {
      if (engine === undefined) throw new Error('the shared engine was not built');
      return engine;
    };
    beforeAll(async () => {
      engine = await sharedEngine();
    }, 20 * 60_000);
    afterAll(() => {
      dir[Symbol.dispose]();
    });

    for (const test of [{ name, cases, preamble: options.preamble }, ...(options.also ?? [])]) {
      it(test.name, async () => {
        expect((await engineAgainstNode(built(), test.cases, dir.path, test.preamble)).mismatches).toEqual([]);
      }, 10 * 60_000);
    }

    options.more?.(built);
  });
}
