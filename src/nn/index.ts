export { Scope } from "./scope.js";
export * from "./layers.js";
