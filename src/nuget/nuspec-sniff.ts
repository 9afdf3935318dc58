/**
 * Finds a package's nuspec in the first bytes of a .nupkg while it downloads (issue 9). NuGet writes the manifest as
 * the first or second zip entry (after `_rels/.rels`), so dependency warming can start as soon as those bytes arrive
 * instead of after the whole package is downloaded, verified and stored: on a slow link that is most of a level of
 * the restore. The zip is read with fflate's streaming Unzip. What this finds is a hint for warming only; the
 * verified package (cache/verify.ts) stays the authority on what the package is.
 *
 * Bounded: only the first MAX_SNIFF_BYTES are looked at, an inflated nuspec may be at most MAX_NUSPEC_BYTES, and
 * input is fed in small slices so that a deflate bomb cannot inflate more than a slice's worth past the cap.
 */
import { Unzip, UnzipInflate, UnzipPassThrough, type UnzipFile } from 'fflate';
import { isRootNuspec, MAX_NUSPEC_BYTES } from './nupkg.ts';

/** The nuspec comes within the first few KB of every package seen; past this, give up. */
const MAX_SNIFF_BYTES = 1024 * 1024;
/** Deflate expands at most ~1032:1: a 4 KB slice inflates to ~4 MB at worst before the cap is checked. */
const SLICE = 4096;

export interface NuspecSniffer {
  /** The next bytes of the package, in order. Cheap once the nuspec was found or given up on. */
  push(chunk: Uint8Array): void;
  /** No more bytes will come. */
  end(): void;
  /** The nuspec's bytes as soon as they are known; undefined when they are not among the first bytes. */
  readonly nuspec: Promise<Buffer | undefined>;
}

/**
 * @example
 * const sniff = sniffNuspec();
 * for await (const chunk of body) sniff.push(chunk);
 * sniff.end();
 * const xml = await sniff.nuspec; // Buffer, or undefined
 */
export function sniffNuspec(): NuspecSniffer {
  let settle: (xml: Buffer | undefined) => void = () => undefined;
  const nuspec = new Promise<Buffer | undefined>((resolve) => (settle = resolve));
  let done = false;
  let seen = 0;
  const finish = (xml: Buffer | undefined): void => {
    if (done) return;
    done = true;
    settle(xml);
  };

  const unzip = new Unzip();
  unzip.register(UnzipPassThrough);
  unzip.register(UnzipInflate);
  unzip.onfile = (file: UnzipFile) => {
    // Other entries are never started: their bytes are skipped, not inflated.
    if (done || !isRootNuspec(file.name)) return;
    if (file.originalSize !== undefined && file.originalSize > MAX_NUSPEC_BYTES) return finish(undefined);
    const parts: Uint8Array[] = [];
    let size = 0;
    file.ondata = (err, data, final) => {
      if (done) return;
      if (err !== null) return finish(undefined);
      size += data.length;
      if (size > MAX_NUSPEC_BYTES) return finish(undefined);
      parts.push(data);
      if (final) finish(Buffer.concat(parts));
    };
    try {
      file.start();
    } catch {
      // A compression method fflate was not given (LZMA, …): no hint, the package itself is still verified.
      finish(undefined);
    }
  };

  return {
    nuspec,
    push(chunk) {
      for (let at = 0; at < chunk.length && !done; at += SLICE) {
        const slice = chunk.subarray(at, Math.min(chunk.length, at + SLICE));
        seen += slice.length;
        try {
          unzip.push(slice, false);
        } catch {
          // Not a zip, or a damaged one: verification will say so; there is nothing to warm from.
          finish(undefined);
        }
        if (seen >= MAX_SNIFF_BYTES) finish(undefined);
      }
    },
    end() {
      finish(undefined);
    },
  };
}
