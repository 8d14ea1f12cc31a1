export * from "./layers.js";
export * from "./moe.js";
export { Scope } from "./scope.js";
