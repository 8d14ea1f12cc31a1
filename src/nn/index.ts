export * from "./layers.js";
export { Scope } from "./scope.js";
