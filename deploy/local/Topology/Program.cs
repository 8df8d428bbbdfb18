using System.Globalization;
using Distributed.Topology;

// A whole local deployment on loopback, driven from the terminal:
//   dotnet run --project deploy/local/Topology -c Release -- --silos 3 --gateways 2 --backends 3
// then type `kill silo2`, `restart silo2`, `status` or `quit`.
var silos = Option("--silos", 2);
var gateways = Option("--gateways", 2);
var backends = Option("--backends", 3);
Console.WriteLine($"Starting Redis, {silos} silo(s), {gateways} gateway(s), {backends} echo backend(s)...");
await using var topology = await LocalTopology.StartAsync(new TopologyOptions
{
    Silos = silos,
    Gateways = gateways,
    Backends = backends,
    SiloSettings = TopologyOptions.FastFailureDetection(),
});
Console.WriteLine(topology.Describe());
Console.WriteLine("Commands: status | kill <member> | restart <member> | quit   (pool 'web', session header X-Session-Id)");
while (Console.ReadLine() is { } line)
{
    var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    try
    {
        switch (words)
        {
            case ["quit" or "exit"]:
                return;
            case ["status"]:
                Console.WriteLine(topology.Describe());
                break;
            case ["kill", var name]:
                topology.Kill(name);
                Console.WriteLine($"killed {name} (SIGKILL)");
                break;
            case ["restart", var name]:
                await topology.RestartAsync(name);
                Console.WriteLine($"{name} is back");
                break;
            case []:
                break;
            default:
                Console.WriteLine("Commands: status | kill <member> | restart <member> | quit");
                break;
        }
    }
    catch (Exception ex) when (ex is ArgumentException or TimeoutException or InvalidOperationException)
    {
        Console.WriteLine(ex.Message);
    }
}

int Option(string name, int fallback)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length && int.TryParse(args[index + 1], NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value > 0
        ? value
        : fallback;
}
