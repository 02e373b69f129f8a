import { AttachmentStore } from '../store/attachment-store.js';
import type { ContentSink } from './mail-stream.js';

/** Attachments written into data_dir/attachments while mailparser decodes them, hashed on the way. */
export function fileSink(dataDir: string): ContentSink {
  const store = new AttachmentStore(dataDir);
  return (content) => store.putStream(content);
}
