using Distributed.Topology;
using Xunit.Abstractions;

namespace Distributed.TestCommon;

/// <summary>
/// The base of a test class whose tests start real processes (<see cref="ManagedProcess"/>, <see cref="LocalTopology"/>).
/// After each test, what those processes wrote while it ran goes to the test's output. <c>dotnet test</c> prints a
/// test's output only when the test fails, so a green run stays quiet and a red one shows the failed test's process
/// logs; <c>./test.sh</c> also keeps every process's whole log in a file (<see cref="ProcessLogs.Folder"/>).
/// </summary>
public abstract class ProcessTest(ITestOutputHelper output) : IDisposable
{
    private readonly long _mark = ProcessLogs.Mark();

    /// <summary>The test's output.</summary>
    protected ITestOutputHelper Output { get; } = output;

    /// <inheritdoc />
    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Writes the processes' output to the test's output; an override disposes its own resources, then calls this.</summary>
    protected virtual void Dispose(bool disposing)
    {
        if (!disposing)
        {
            return;
        }

        if (ProcessLogs.Since(_mark, linesPerProcess: 40) is { Length: > 0 } logs)
        {
            Output.WriteLine($"Output of the processes while this test ran:\n{logs}");
        }
        else if (ProcessLogs.LastOfRunning() is { Length: > 0 } last)
        {
            Output.WriteLine($"The processes wrote nothing while this test ran; the last lines of those still running:\n{last}");
        }
    }
}
