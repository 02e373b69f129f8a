export { trustedAuthResults, type AuthSummary, type AuthWord } from './auth-results.js';
