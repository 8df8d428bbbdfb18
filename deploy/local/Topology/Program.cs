using System.Globalization;
using Distributed.Topology;

// A whole local deployment on loopback, driven from the terminal:
//   dotnet run --project deploy/local/Topology -c Release -- --silos 3 --gateways 2 --backends 3 [--redis-no-persistence]
// then type `kill silo2`, `restart silo2`, `pause gateway1`, `resume gateway1`, `status` or `quit`.
var silos = Option("--silos", 2);
var gateways = Option("--gateways", 2);
var backends = Option("--backends", 3);
var persistent = !args.Contains("--redis-no-persistence");
// Each member's output in a file of its own (ignored by git), unless DISTRIBUTED_PROCESS_LOGS names another folder.
ProcessLogs.Folder ??= Path.Combine(RepoPaths.Root, ".run", "topology", DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
Console.WriteLine($"Starting Redis ({(persistent ? "append-only, as in the manifests" : "no persistence: a restart loses every pin and the membership table")}), {silos} silo(s), {gateways} gateway(s), {backends} echo backend(s)...");
await using var topology = await LocalTopology.StartAsync(new TopologyOptions
{
    Silos = silos,
    Gateways = gateways,
    Backends = backends,
    RedisAppendOnly = persistent,
    SiloSettings = TopologyOptions.FastFailureDetection(),
});
const string Commands = "Commands: status | kill <member> | restart <member> | pause <member> | resume <member> | quit";
Console.WriteLine(topology.Describe());
Console.WriteLine($"Process logs: {ProcessLogs.Folder}");
Console.WriteLine($"{Commands}   (pool 'web', session header X-Session-Id)");
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
            case ["pause", var name]:
                await topology.PauseAsync(name);
                Console.WriteLine($"paused {name} (SIGSTOP)");
                break;
            case ["resume", var name]:
                await topology.ResumeAsync(name);
                Console.WriteLine($"resumed {name} (SIGCONT)");
                break;
            case []:
                break;
            default:
                Console.WriteLine(Commands);
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
