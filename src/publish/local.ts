/**
 * Publishing to a folder upstream (README "Folder upstreams"): the folder's publisher stores the package in
 * process (upstream/folder/publish.ts), and this turns its outcome into the answer nuget.org would give
 * (protocol.md §2.4): push 201, or 409 for a duplicate so `--skip-duplicate` works; unlist (DELETE) and
 * relist (POST) 200, or 404 for an unknown id+version.
 */
import { NugateError, forbidden } from '../errors.ts';
import type { FolderPublisher } from '../sources/folder/publish.ts';

export type LocalOp = 'push' | 'unlist' | 'relist';

export interface LocalOutcome {
  status: number;
  /** The reason phrase, which the client prints. */
  reason: string;
}

/**
 * With keyMode "passthrough" the client's key goes to the target upstream, which judges it. A folder judges
 * nothing, so it would take anyone's push: only nugate's own keys (keyMode "mapped") may write to one.
 */
export function folderNeedsMappedKeys(upstream: string): NugateError {
  return forbidden(`Pushing to folder upstream "${upstream}" needs publish.keyMode "mapped" (nugate checks the API key itself)`);
}

/** Offline, nothing may reach a network upstream (503 with the reason, which the client prints); a folder needs no network and keeps taking pushes. */
export function offlineRefusal(upstream?: string): NugateError {
  const text =
    upstream === undefined
      ? 'Publishing is disabled: nugate is offline, and offline only folder upstreams take packages'
      : `Publishing is disabled: nugate is offline and upstream "${upstream}" is not a folder`;
  return new NugateError('OFFLINE', 503, text);
}

/** Runs one operation on the folder; file-system failures are thrown as NugateError (500, short reason). */
export async function publishLocally(publisher: FolderPublisher, op: LocalOp, pkg: { id: string; version: string }, spooledPath?: string): Promise<LocalOutcome> {
  if (op === 'push') {
    if (spooledPath === undefined) throw new Error('a push needs the spooled package');
    const result = await publisher.push(spooledPath, pkg);
    if (result === 'created') return { status: 201, reason: 'Created' };
    // nuget.org's wording; the client prints it, and --skip-duplicate turns the 409 into a warning.
    return { status: 409, reason: `A package with ID '${pkg.id}' and version '${pkg.version}' already exists and cannot be modified.` };
  }
  const found = op === 'unlist' ? await publisher.unlist(pkg.id, pkg.version) : await publisher.relist(pkg.id, pkg.version);
  // nuget.org answers a delete with 200 and an empty body (protocol.md §2.4), not the documented 204.
  return found ? { status: 200, reason: 'OK' } : { status: 404, reason: `A package with ID '${pkg.id}' and version '${pkg.version}' does not exist` };
}
