export { trustedAuthResults, type AuthSummary, type AuthWord } from './auth-results.js';
export { authenticateMessage, type AuthOutcome } from './authenticate.js';
export { createDnsResolver, type ResolveFn } from './dns-resolver.js';
