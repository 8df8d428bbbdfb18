using Distributed.EchoBackend;

var builder = WebApplication.CreateBuilder(args);
builder.Services.Configure<EchoOptions>(builder.Configuration.GetSection(EchoOptions.SectionName));
builder.Services.AddSingleton<EchoState>();

var app = builder.Build();
app.UseBackendIdHeader();
app.MapEchoControl();
app.UseWebSocketEcho();
app.MapEcho();
app.Run();
