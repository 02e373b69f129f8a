// R35 and R25's blocklist live with the change planner (src/changes/plan.ts), the one place
// that decides status changes whoever asks; the rules use them from there.
export { isBlocklisted, statusVerdict } from '../changes/plan.js';
