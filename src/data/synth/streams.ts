// The independent random streams of one synthetic case: each part (plan, anatomy, lesions,
// noise, EHR, wording) draws from Rng.fromParts(seed, index, stream), so cases can be made in
// any order, in parallel, and changing one part never shifts the others.

/** Independent streams of one case. */
export const streams = { plan: 1, anatomy: 2, lesions: 3, noise: 4, ehr: 5, wording: 6 } as const;
