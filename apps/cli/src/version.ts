/** The client's version (kept equal to package.json's by a test, so start-up reads no file). */
export const CLI_VERSION = '0.1.0';
/** The local API version this client speaks (`API_VERSION` in @weft/api; a test keeps them equal). */
export const CLI_API_VERSION = '1.0';
