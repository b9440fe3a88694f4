// Swagger UI on the gateway's own document. Tokens typed into "Authorize" stay in this tab's
// memory (persistAuthorization is off).
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: false,
});
