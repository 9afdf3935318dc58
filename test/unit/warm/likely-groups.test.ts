import { test } from 'node:test';
import assert from 'node:assert/strict';
import { likelyGroups } from '../../../src/warm/warmer.ts';

const group = (targetFramework: string | undefined, id: string): { targetFramework?: string; dependencies: Array<{ id: string; range?: string }> } =>
  targetFramework === undefined ? { dependencies: [{ id }] } : { targetFramework, dependencies: [{ id }] };

const pick = (...groups: ReturnType<typeof group>[]): string[] => likelyGroups(groups).flatMap((g) => g.dependencies.map((d) => d.id));

test('warming follows the group a current .NET project restores: highest net5+, then netcoreapp, then netstandard', () => {
  assert.deepEqual(pick(group('.NETFramework4.6.2', 'fx'), group('.NETStandard1.3', 'ns13'), group('.NETStandard2.0', 'ns20'), group('net6.0', 'n6'), group('net8.0', 'n8')), ['n8']);
  assert.deepEqual(pick(group('.NETStandard1.3', 'ns13'), group('.NETStandard2.1', 'ns21'), group('.NETCoreApp3.1', 'c31')), ['c31']);
  assert.deepEqual(pick(group('netstandard1.0', 'ns10'), group('netstandard2.0', 'ns20')), ['ns20']);
  assert.deepEqual(pick(group('net4.5', 'fx'), group('netstandard1.1', 'ns11')), ['ns11'], 'net4.5 is .NET Framework');
});

test('without a modern group: the framework-less group, else every group', () => {
  assert.deepEqual(pick(group(undefined, 'any'), group('.NETFramework4.5', 'fx')), ['any']);
  assert.deepEqual(pick(group('.NETFramework4.5', 'fx'), group('MonoAndroid10', 'android')), ['fx', 'android']);
});
