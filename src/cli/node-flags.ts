/**
 * The V8 flags a UEE server process runs with: `npm start` and `npm run uee`, the `uee` command
 * (`bin/uee.mjs`'s shebang), the benches (`bench/run.ts`, and `bench/routing`'s worker processes) and
 * anything else that starts one. A test keeps the places that cannot import this list (package.json,
 * the shebang) equal to it. (Not in `src/config`: those are `uee`'s own flags, each one the CLI
 * parses — HINT-8.)
 *
 * `--max-semi-space-size=64`: V8's young generation is two semi-spaces of at most 16 MB by default,
 * and a scavenge copies what is still alive. A router with many queues holds hundreds of deliveries
 * in hand (envelopes, inputs, their promise chains) across several scavenges, so each copied them
 * and promoted many to the old generation. With 64 MB most die young: `bench/routing`'s 1,000-tenant
 * case used 13% less main-thread CPU per event (three alternating pairs, 2026-12-04: embedded
 * 52 / 52 / 57 → 45 / 44 / 45 µs, Redis 45 / 43 / 48 → 36 / 41 / 43) with a lower heap peak; one
 * plugin's case is unchanged.
 * What it costs: up to 3 × 64 MB of young generation once traffic grows it (committed as used).
 * Override with `NODE_OPTIONS=--max-semi-space-size=N` (a later flag wins).
 */
export const SERVER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=64'];
