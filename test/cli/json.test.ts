import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatJson, toSnakeCaseKeys } from '../../cli/json.js';

test('camelCase keys become snake_case at every depth, in arrays too', () => {
  const got = toSnakeCaseKeys({ subgroupSizes: [8, 64], rows: [{ maxRelErr: 1, fooBar2Baz: 2 }], deep: { cfgScale: { innerKey: 3 } } });
  assert.equal(got, { subgroup_sizes: [8, 64], rows: [{ max_rel_err: 1, foo_bar2_baz: 2 }], deep: { cfg_scale: { inner_key: 3 } } });
});

test('keys that are data, not field names, stay as they are', () => {
  const keys = ['tfjs-webgpu', 'DiT-S/2', '0', 'already_snake', 'gpujs', 'URL'];
  const got = toSnakeCaseKeys(Object.fromEntries(keys.map((k) => [k, 1]))) as Record<string, number>;
  assert.equal(Object.keys(got).sort(), [...keys].sort());
});

test('values are untouched: strings, null, and objects JSON has its own rules for', () => {
  const data = new Float32Array([1, 2]);
  const got = toSnakeCaseKeys({ someText: 'camelCase stays', none: null, data }) as Record<string, unknown>;
  assert.is(got.some_text, 'camelCase stays');
  assert.is(got.none, null);
  assert.is(got.data, data);
});

test('formatJson: what --json prints', () => {
  assert.is(formatJson({ oneKey: 1 }), '{\n  "one_key": 1\n}');
});

test.run();
