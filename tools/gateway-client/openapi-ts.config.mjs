// Generates the client from a gateway's OpenAPI document: GATEWAY_OPENAPI (a file or URL)
// into GATEWAY_CLIENT_OUT, with the fetch client and ES-module import extensions for Node.
export default {
  input: process.env.GATEWAY_OPENAPI,
  output: { path: process.env.GATEWAY_CLIENT_OUT, importFileExtension: ".js" },
  plugins: ["@hey-api/client-fetch", "@hey-api/typescript", "@hey-api/sdk"],
  logs: { file: false },
};
