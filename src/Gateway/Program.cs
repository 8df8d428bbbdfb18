using Distributed.Gateway;
using Distributed.Gateway.Cluster;
using Distributed.Gateway.Hardening;
using Distributed.Gateway.History;
using Distributed.Gateway.Management;
using Distributed.Gateway.SessionKeys;
using Distributed.Gateway.Shutdown;
using Distributed.Gateway.Telemetry;
using Distributed.ServiceDefaults;

return ConfigurationErrors.Run(() =>
{
    var builder = WebApplication.CreateBuilder(args);
    builder.AddDistributedDefaults(GatewayTelemetry.ServiceName);
    builder.AddManagementListener();
    builder.AddEdgeProtection();
    builder.AddClaimAuthentication();
    builder.AddClusterClient();
    builder.Services.AddSessionBalancing(builder.Configuration).AddPoolHistory();
    builder.Services.AddGracefulShutdown(builder.Configuration);

    var app = builder.Build();
    app.UseGracefulShutdown();
    app.UseEdgeProtection();
    app.UseClaimAuthentication();
    app.MapManagementEndpoints();
    app.MapAdminApi();
    app.MapStatusPage();
    app.MapBalancedProxy();
    app.Run();
});
