using Distributed.ServiceDefaults;
using Distributed.Silo;

return ConfigurationErrors.Run(() =>
{
    var builder = WebApplication.CreateBuilder(args);
    builder.AddDistributedDefaults(SiloHostingExtensions.ServiceName);
    builder.AddDistributedSilo();

    var app = builder.Build();
    app.MapDefaultEndpoints();
    app.MapPrometheusEndpoint();
    app.MapDistributedDashboard();
    app.Run();
});
