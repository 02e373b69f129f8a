import { Transform, type TransformCallback } from 'node:stream';

/** The start of a message kept for the header repairs (R66: header block, first text part, body sample). */
export const PREFIX_BYTES = 1024 * 1024;
/** One MIME header block is kept this far (a block longer than this is not a MIME header). */
const MAX_HEADER_BLOCK = 64 * 1024;
/** All header blocks together are kept this far: a hostile body of "--" lines costs no more. */
const MAX_HEADER_BYTES = 1024 * 1024;

/**
 * Passes a message through unchanged on its way to mailparser and keeps, on the way, what the
 * repairs after parsing read from the raw bytes (issue 15: a message streamed from its file is
 * never held whole): its first PREFIX_BYTES, and its MIME header blocks (the message's own, and
 * each one after a line that starts with "--"), as Latin-1 text.
 */
export class RawScan extends Transform {
  readonly headerBlocks: string[] = [];
  /** keepPrefix false: the caller has the bytes already (a Buffer source), so none are copied. */
  constructor(private readonly keepPrefix = true) {
    super();
  }

  private readonly prefixChunks: Buffer[] = [];
  private prefixBytes = 0;
  private blocksBytes = 0;
  private inHeader = true;
  private block = '';
  /** An unfinished line: whole in a header block; in a body, only its first two characters. */
  private carry = '';

  /** The message's first PREFIX_BYTES (all of it when shorter); empty unless keepPrefix. */
  get prefix(): Buffer {
    return Buffer.concat(this.prefixChunks);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (this.keepPrefix && this.prefixBytes < PREFIX_BYTES) {
      const part = chunk.subarray(0, PREFIX_BYTES - this.prefixBytes);
      this.prefixChunks.push(Buffer.from(part)); // a copy: the chunk may be a view of a larger buffer
      this.prefixBytes += part.length;
    }
    this.scan(chunk.toString('latin1'));
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    if (this.inHeader) this.endBlock(this.carry === '' ? this.block : `${this.block}${this.carry}\n`);
    done();
  }

  private scan(text: string): void {
    const data = this.carry + text;
    let pos = 0;
    for (let nl = data.indexOf('\n'); nl >= 0; pos = nl + 1, nl = data.indexOf('\n', pos)) {
      if (this.inHeader) {
        const line = data.slice(pos, nl);
        if (line === '' || line === '\r') {
          this.endBlock(this.block);
          this.inHeader = false;
        } else if (this.block.length < MAX_HEADER_BLOCK) {
          this.block += `${line}\n`;
        }
      } else if (data.startsWith('--', pos)) {
        this.inHeader = true;
        this.block = '';
      }
    }
    // A header line is kept whole (up to the block's limit); a body line only needs its start.
    this.carry = this.inHeader ? data.slice(pos, pos + MAX_HEADER_BLOCK) : data.slice(pos, pos + 2);
  }

  private endBlock(block: string): void {
    if (this.blocksBytes + block.length <= MAX_HEADER_BYTES) this.headerBlocks.push(block.slice(0, MAX_HEADER_BLOCK));
    this.blocksBytes += block.length;
    this.block = '';
  }
}
