// The part of @lhncbc/ucum-lhc (CommonJS, no bundled types) that fhirRecord.ts uses.
declare module "@lhncbc/ucum-lhc" {
  interface ConvertResult {
    status: "succeeded" | "failed" | "error";
    toVal: number | null;
    msg: string[];
  }
  interface UcumLhcUtils {
    convertUnitTo(
      fromUnitCode: string,
      fromVal: number,
      toUnitCode: string,
      options?: { suggest?: boolean; molecularWeight?: number | null },
    ): ConvertResult;
  }
  const ucum: { UcumLhcUtils: { getInstance(): UcumLhcUtils } };
  export default ucum;
}
