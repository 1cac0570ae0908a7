/**
 * Whether two objects share V8's hidden class (map), for tests of code that must not give every
 * object it makes a class of its own: in Node 20's V8 an object spread with properties after it
 * (`{ ...a, b }`) did, at a warm call site, and each class was allocated in the old generation
 * (src/actors/shard-host.ts, loadtest/analysis.md seventh session). Uses V8's %HaveSameMap,
 * enabled for code compiled after this module loads.
 */
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--allow-natives-syntax');
const haveSameMap = new Function('a', 'b', 'return %HaveSameMap(a, b);') as (a: object, b: object) => boolean;

export function sameHiddenClass(a: object, b: object): boolean {
  return haveSameMap(a, b);
}
