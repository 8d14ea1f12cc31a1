// The face rig every part of the digital human agrees on: the 15 Oculus visemes (lip sync
// targets, head morph targets, lip-sync model outputs, in this order) and the ARKit
// blend-shape subset the expressions drive. Browser-safe: no Node imports.

/** Oculus OVRLipSync visemes, in the order the lip-sync model emits them. */
export const VISEMES = ["sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "I", "O", "U"] as const;
export type Viseme = (typeof VISEMES)[number];

/** Morph-target name of a viseme on the head mesh (TalkingHead / Ready Player Me convention). */
export const visemeMorphName = (viseme: Viseme): string => `viseme_${viseme}`;

/** ARKit blend shapes the head carries for expressions, blinking and the jaw. */
export const EXPRESSION_SHAPES = [
  "browInnerUp",
  "browDownLeft",
  "browDownRight",
  "browOuterUpLeft",
  "browOuterUpRight",
  "eyeBlinkLeft",
  "eyeBlinkRight",
  "eyeWideLeft",
  "eyeWideRight",
  "eyeSquintLeft",
  "eyeSquintRight",
  "mouthSmileLeft",
  "mouthSmileRight",
  "mouthFrownLeft",
  "mouthFrownRight",
  "mouthPucker",
  "cheekPuff",
  "cheekSquintLeft",
  "cheekSquintRight",
  "noseSneerLeft",
  "noseSneerRight",
  "jawOpen",
] as const;
export type ExpressionShape = (typeof EXPRESSION_SHAPES)[number];

/** Emotions the classifier predicts and the face can show. */
export const EMOTIONS = ["neutral", "happy", "sad", "angry", "surprised"] as const;
export type Emotion = (typeof EMOTIONS)[number];
