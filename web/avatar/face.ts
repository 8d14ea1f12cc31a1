// The face's motion, one update per rendered frame: viseme weights (from the lip-sync model
// or the phoneme timings) and expression weights (from the emotion model) each ease toward
// their targets with their own time constant (lips fast, expressions slow), the eyes blink
// at random intervals, and the head sways a little so it never looks frozen.

import {
  type Emotion,
  EXPRESSION_SHAPES,
  type ExpressionShape,
  VISEMES,
  visemeMorphName,
} from "../../src/apps/avatar/faceRig.js";
import { type HeadRig, setMorph } from "./scene.js";

/** Blend-shape weights of each emotion at full intensity. */
export const emotionShapes: Readonly<Record<Emotion, Partial<Record<ExpressionShape, number>>>> = {
  neutral: {},
  happy: {
    mouthSmileLeft: 0.75,
    mouthSmileRight: 0.75,
    cheekSquintLeft: 0.45,
    cheekSquintRight: 0.45,
    eyeSquintLeft: 0.25,
    eyeSquintRight: 0.25,
    browInnerUp: 0.1,
  },
  sad: {
    mouthFrownLeft: 0.6,
    mouthFrownRight: 0.6,
    browInnerUp: 0.75,
    eyeSquintLeft: 0.15,
    eyeSquintRight: 0.15,
  },
  angry: {
    browDownLeft: 0.85,
    browDownRight: 0.85,
    noseSneerLeft: 0.45,
    noseSneerRight: 0.45,
    eyeSquintLeft: 0.35,
    eyeSquintRight: 0.35,
    mouthFrownLeft: 0.3,
    mouthFrownRight: 0.3,
  },
  surprised: {
    browInnerUp: 0.6,
    browOuterUpLeft: 0.8,
    browOuterUpRight: 0.8,
    eyeWideLeft: 0.7,
    eyeWideRight: 0.7,
    jawOpen: 0.15,
  },
};

const LIP_TIME_CONSTANT_S = 0.045;
const EXPRESSION_TIME_CONSTANT_S = 0.35;
const BLINK_S = 0.16;

export class FaceAnimator {
  private readonly visemeTarget = new Float32Array(VISEMES.length);
  private readonly visemeNow = new Float32Array(VISEMES.length);
  private readonly expressionTarget = new Map<ExpressionShape, number>();
  private readonly expressionNow = new Map<ExpressionShape, number>();
  private nextBlinkS = 1.5;
  private blinkStartS = -1;
  private readonly visemeNames = VISEMES.map(visemeMorphName);

  constructor(private readonly head: HeadRig) {}

  /** Target viseme weights, one per VISEMES entry (probabilities or a one-hot). */
  setVisemes(weights: ArrayLike<number>): void {
    for (let i = 0; i < VISEMES.length; i++) this.visemeTarget[i] = weights[i] ?? 0;
  }

  /** Close the mouth (silence). */
  rest(): void {
    this.visemeTarget.fill(0);
  }

  setEmotion(emotion: Emotion, intensity: number): void {
    this.expressionTarget.clear();
    const k = Math.max(0, Math.min(1, intensity));
    for (const [shape, w] of Object.entries(emotionShapes[emotion]) as [ExpressionShape, number][])
      this.expressionTarget.set(shape, w * k);
  }

  /** The current mouth opening in [0, 1] (for figures and tests). */
  mouthOpen(): number {
    let open = 0;
    for (let i = 1; i < VISEMES.length; i++) open += this.visemeNow[i] * (VISEMES[i] === "PP" ? 0 : 1);
    return Math.min(1, open);
  }

  update(timeS: number, dtS: number): void {
    const lip = 1 - Math.exp(-dtS / LIP_TIME_CONSTANT_S);
    for (let i = 0; i < VISEMES.length; i++) {
      this.visemeNow[i] += (this.visemeTarget[i] - this.visemeNow[i]) * lip;
      // "sil" is the rest pose: it has no shape to blend in.
      if (i > 0) setMorph(this.head, this.visemeNames[i], this.visemeNow[i]);
    }
    const ease = 1 - Math.exp(-dtS / EXPRESSION_TIME_CONSTANT_S);
    for (const shape of EXPRESSION_SHAPES) {
      if (shape === "eyeBlinkLeft" || shape === "eyeBlinkRight") continue;
      const now = this.expressionNow.get(shape) ?? 0;
      const next = now + ((this.expressionTarget.get(shape) ?? 0) - now) * ease;
      this.expressionNow.set(shape, next);
      setMorph(this.head, shape, next);
    }
    this.blink(timeS);
    const sway = this.head.root.rotation;
    sway.y = 0.05 * Math.sin(timeS * 0.45) + 0.02 * Math.sin(timeS * 1.3);
    sway.x = 0.025 * Math.sin(timeS * 0.6 + 1) - 0.01;
    sway.z = 0.015 * Math.sin(timeS * 0.37 + 2);
  }

  private blink(timeS: number): void {
    if (this.blinkStartS < 0 && timeS >= this.nextBlinkS) this.blinkStartS = timeS;
    let closed = 0;
    if (this.blinkStartS >= 0) {
      const phase = (timeS - this.blinkStartS) / BLINK_S;
      if (phase >= 1) {
        this.blinkStartS = -1;
        this.nextBlinkS = timeS + 2 + Math.random() * 3.5;
      } else closed = phase < 0.4 ? phase / 0.4 : 1 - (phase - 0.4) / 0.6;
    }
    setMorph(this.head, "eyeBlinkLeft", closed);
    setMorph(this.head, "eyeBlinkRight", closed);
  }
}
