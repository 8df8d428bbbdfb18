using System.Net.Sockets;
using System.Text;

namespace Distributed.Topology;

/// <summary>A private <c>redis-server</c> on a free loopback port, in its own temporary folder.</summary>
public sealed class RedisServer : IAsyncDisposable
{
    private static readonly string[] Candidates = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"];
    private readonly string _dir;
    private readonly bool _appendOnly;
    private ManagedProcess _process;

    private RedisServer(int port, string dir, bool appendOnly, ManagedProcess process)
    {
        Port = port;
        _dir = dir;
        _appendOnly = appendOnly;
        _process = process;
    }

    /// <summary>The port it listens on.</summary>
    public int Port { get; }

    /// <summary>StackExchange.Redis connection string.</summary>
    public string ConnectionString => $"127.0.0.1:{Port}";

    /// <summary>Starts Redis; <paramref name="appendOnly"/> keeps data across <see cref="RestartAsync"/>.</summary>
    public static async Task<RedisServer> StartAsync(bool appendOnly = false)
    {
        var port = FreePorts.Next(1)[0];
        var dir = Directory.CreateTempSubdirectory("distributed-redis-").FullName;
        var server = new RedisServer(port, dir, appendOnly, Launch(port, dir, appendOnly));
        await server.WaitReadyAsync();
        return server;
    }

    /// <summary>SIGKILL, as <c>kill -9</c>.</summary>
    public void KillHard() => _process.KillHard();

    /// <summary>Starts it again on the same port and folder (after <see cref="KillHard"/>).</summary>
    public async Task RestartAsync()
    {
        await _process.StopAsync(TimeSpan.FromSeconds(5));
        _process = Launch(Port, _dir, _appendOnly);
        await WaitReadyAsync();
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a temp folder.
        }
    }

    private static ManagedProcess Launch(int port, string dir, bool appendOnly)
    {
        var executable = Candidates.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("redis-server is not installed; ./test.sh installs it with apt-get install -y redis-server.");
        return ManagedProcess.Start(
            $"redis:{port}",
            executable,
            ["--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", appendOnly ? "yes" : "no", "--dir", dir, "--protected-mode", "no"]);
    }

    private async Task WaitReadyAsync() => await Wait.UntilAsync(
        async () =>
        {
            using var client = new TcpClient();
            await client.ConnectAsync("127.0.0.1", Port);
            var stream = client.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes("PING\r\n"));
            var buffer = new byte[16];
            var read = await stream.ReadAsync(buffer);
            return Encoding.ASCII.GetString(buffer, 0, read).StartsWith("+PONG", StringComparison.Ordinal);
        },
        TimeSpan.FromSeconds(20),
        $"redis-server on port {Port}",
        () => _process.RecentOutput());
}
