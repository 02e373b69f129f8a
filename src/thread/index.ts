export { matchThread, type ThreadInput, type ThreadLookup, type ThreadMatch } from './match-thread.js';
export { makeReplyToken, verifyReplyToken, tokenFromAddress } from './reply-token.js';
export { laneKey, laneOf, type LaneInput } from './lane.js';
